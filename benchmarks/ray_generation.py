"""Generation on Ray against the local engine, on this machine: document_qa samples/s at 1 and
2 CPUs for each, measured in the same run, with the bytes checked equal; Ray's fixed cost
(starting a local Ray, and its first task's worker) printed apart. Ray runs its workers at
nice 15, so run this on a quiet machine.

    python benchmarks/ray_generation.py [--n 400000] [--shard-size 65536]
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

from cookbook.engine.generation import Job, generate
from cookbook.engine.ray_generation import generate_on_ray
from cookbook.registry import get_registry


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400_000)
    parser.add_argument("--shard-size", type=int, default=65_536)
    args = parser.parse_args()
    import ray

    params = get_registry().get("templates", "document_qa").resolve(None)
    jobs = [Job("document_qa", args.n, params)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for cpus in (1, 2):
            start = time.perf_counter()
            generate(jobs, 0, folder / "local.jsonl", workers=cpus)
            local = time.perf_counter() - start
            start = time.perf_counter()
            ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
            started = time.perf_counter() - start
            start = time.perf_counter()
            generate_on_ray([Job("document_qa", 1, params)], 0, folder / "warm.jsonl")
            first = time.perf_counter() - start
            start = time.perf_counter()
            generate_on_ray(jobs, 0, folder / "ray.jsonl", shard_size=args.shard_size)
            on_ray = time.perf_counter() - start
            ray.shutdown()
            same = digest(folder / "local.jsonl") == digest(folder / "ray.jsonl")
            rates = f"local {args.n / local:9,.0f} samples/s  ray {args.n / on_ray:9,.0f} samples/s"
            print(f"{cpus} CPU(s): {rates}  (ray start {started:.1f} s, first task"
                  f" {first:.1f} s)  identical bytes: {same}")  # fmt: skip
            print(f"ray_vs_local_{cpus}cpu {local / on_ray:.2f}")


if __name__ == "__main__":
    main()
