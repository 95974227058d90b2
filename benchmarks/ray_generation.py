"""Generation on Ray against the local engine, on this machine: document_qa samples/s at 1 and
2 CPUs for each, measured in the same run, with the bytes checked equal; Ray's fixed cost
(starting a local Ray, and its first task's worker) printed apart. Also Ray Data against the
Ray tasks the engine uses: the same shards rendered and written by ``map_batches`` over a
dataset of shard indices (``ray.data.from_items``), joined the same way, the bytes checked.
Ray runs its workers at nice 15, so run this on a quiet machine.

    python benchmarks/ray_generation.py [--n 400000] [--shard-size 65536]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from cookbook.engine.generation import Job, generate
from cookbook.engine.ray_generation import generate_on_ray
from cookbook.registry import get_registry


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def generate_with_ray_data(jobs: list[Job], seed: int, output: Path, shard_size: int) -> int:
    """The engine's shards rendered by Ray Data instead of Ray tasks: a dataset of shard
    indices, ``map_batches`` writing one shard per row (the same worker code), then the
    engine's join."""
    import ray

    from cookbook.engine import ray_generation as rg

    shards = rg.plan_shards([j.count for j in jobs], shard_size)
    folder = output.with_name(output.name + ".shards")
    folder.mkdir(parents=True, exist_ok=True)

    def render(batch: dict) -> dict:
        files = []
        for i in batch["shard"]:
            entry = rg.write_shard(jobs, seed, "pseudowords", shards[int(i)], str(folder), int(i))
            files.append(json.dumps(entry))
        return {"shard": batch["shard"], "entry": files}

    data = ray.data.from_items([{"shard": i} for i in range(len(shards))])
    rows = data.map_batches(render, batch_size=1).take_all()
    entries = {int(r["shard"]): json.loads(r["entry"]) for r in rows}
    written = rg._join(folder, output, "jsonl", [entries[i] for i in range(len(shards))])
    shutil.rmtree(folder)
    return written


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
            warm = [Job("document_qa", 1, params)]
            generate_with_ray_data(warm, 0, folder / "warm-data.jsonl", args.shard_size)
            start = time.perf_counter()
            generate_with_ray_data(jobs, 0, folder / "ray-data.jsonl", args.shard_size)
            on_data = time.perf_counter() - start
            ray.shutdown()
            same = digest(folder / "local.jsonl") == digest(folder / "ray.jsonl")
            same_data = digest(folder / "local.jsonl") == digest(folder / "ray-data.jsonl")
            rates = f"local {args.n / local:9,.0f} samples/s  ray {args.n / on_ray:9,.0f} samples/s"
            print(f"{cpus} CPU(s): {rates}  (ray start {started:.1f} s, first task"
                  f" {first:.1f} s)  identical bytes: {same}")  # fmt: skip
            print(f"          ray data {args.n / on_data:9,.0f} samples/s (map_batches over"
                  f" shard indices)  identical bytes: {same_data}")  # fmt: skip
            print(f"ray_vs_local_{cpus}cpu {local / on_ray:.2f}")
            print(f"ray_data_vs_ray_tasks_{cpus}cpu {on_ray / on_data:.2f}")


if __name__ == "__main__":
    main()
