"""A model step on Ray actors against the local engine, on this machine: ``evaluate_template``
(greedy generation on fresh template samples) with the embedded model, locally (one process on
all cores, then on one thread) and on Ray with 1 and 2 CPU actors (one model each, one core
each), measured in the same run, with the generations checked identical; Ray's fixed cost
(starting a local Ray, and the actors loading the model on a first pass) printed apart.

    python benchmarks/ray_model_steps.py [--n 64] [--template retrieval] [--batch-size 8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from cookbook.engine import evaluate_template, release_ray_models
from cookbook.engine.models import DEFAULT_MODEL


def _local_on_one_thread(args: argparse.Namespace, settings: dict, folder: Path) -> float:
    """The local engine's time with torch on one thread (as a one-CPU Ray actor runs)."""
    import torch

    before = torch.get_num_threads()
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        evaluate_template(args.template, args.model, **settings,
                          generations_path=folder / "local1.jsonl")  # fmt: skip
        return time.perf_counter() - start
    finally:
        del os.environ["OMP_NUM_THREADS"]
        torch.set_num_threads(before)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=64)
    parser.add_argument("--template", default="retrieval")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--batch-size", type=int, default=8)
    args = parser.parse_args()
    import ray

    settings = {"n": args.n, "seed": 1, "batch_size": args.batch_size, "progress": False}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        evaluate_template(args.template, args.model, **{**settings, "n": 1})  # files cached
        start = time.perf_counter()
        evaluate_template(args.template, args.model, **settings,
                          generations_path=folder / "local.jsonl")  # fmt: skip
        local = time.perf_counter() - start
        print(f"local: {args.n / local:6.2f} records/s ({local:.1f} s, loading the model"
              " included)")  # fmt: skip
        one_thread = _local_on_one_thread(args, settings, folder)
        print(f"local, one thread: {args.n / one_thread:6.2f} records/s ({one_thread:.1f} s,"
              " loading the model included; a Ray actor also runs one thread)")  # fmt: skip
        for actors in (1, 2):
            start = time.perf_counter()
            ray.init(num_cpus=actors, include_dashboard=False, log_to_driver=False)
            started = time.perf_counter() - start
            execution = {"engine": "ray", "actors": actors,
                         "model_shard_size": args.batch_size}  # fmt: skip
            start = time.perf_counter()
            evaluate_template(args.template, args.model, **{**settings, "n": 1},
                              execution=execution, shards=folder / f"warm{actors}")  # fmt: skip
            loading = time.perf_counter() - start
            start = time.perf_counter()
            evaluate_template(args.template, args.model, **settings, execution=execution,
                              shards=folder / f"ray{actors}",
                              generations_path=folder / f"ray{actors}.jsonl")  # fmt: skip
            on_ray = time.perf_counter() - start
            release_ray_models()
            ray.shutdown()
            same = (folder / f"ray{actors}.jsonl").read_bytes() == (
                folder / "local.jsonl"
            ).read_bytes()
            whole = loading + on_ray
            print(
                f"ray, {actors} actor(s): {args.n / on_ray:6.2f} records/s ({on_ray:.1f} s"
                f" on loaded actors; {whole:.1f} s with the actors loading the model and a"
                f" first record; ray start {started:.1f} s)  identical generations: {same}"
            )
            print(f"ray_vs_local_{actors}actors {local / whole:.2f} (loading included)")


if __name__ == "__main__":
    main()
