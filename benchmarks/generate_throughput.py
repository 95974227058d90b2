"""document_qa samples/s end to end to JSONL, for 1 worker and for all cores.

The baseline is a plain per-sample Python loop written here, the way one would write the
template by hand (a ``random.Random`` per sample, one draw per token, ``json.dumps`` per
record), measured in the same run. The published cost of a template sample is 70 us.
"Per core" runs (the loop, Cookbook with one worker, and the same bytes written alone) are
pinned to one CPU, so the one-worker writer thread shares that core; scaling is all workers
against that. User and system CPU time are printed apart: the system part is mostly the
kernel copying records into the page cache, the same for any writer. Each timed run follows
an untimed run of the same job (``--no-warmup`` to skip it): on a VM the first large write
after a quiet spell can cost the kernel several times more a byte than the next.

    python benchmarks/generate_throughput.py [--n 200000] [--rounds 5] [--quick] [--no-warmup]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import tempfile
import time
from pathlib import Path

from cookbook.engine.generation import Job, default_workers, generate
from cookbook.engine.token_spaces import builtin_token_space
from cookbook.registry import get_registry


def plain_loop(n: int, path: Path, seed: int = 0) -> None:
    """document_qa by hand, one sample at a time, with the same lengths and output fields."""
    words = builtin_token_space("pseudowords").words
    with path.open("w") as f:
        for index in range(n):
            digest = hashlib.blake2b(f"{seed}-{index}".encode(), digest_size=8).digest()
            rng = random.Random(int.from_bytes(digest, "little"))
            length = rng.randint(40, 120)
            doc = [rng.choice(words) for _ in range(length)]
            span = rng.randint(2, 6)
            side = rng.choice(("before", "after"))
            if side == "after":
                start = rng.randint(0, length - span - 3)
                answer = doc[start + span : start + span + 3]
            else:
                start = rng.randint(3, length - span)
                answer = doc[start - 3 : start]
            document, question = " ".join(doc), " ".join(doc[start : start + span])
            slots = {
                "document": document,
                "question": question,
                "side": side,
                "position": start,
                "answer": " ".join(answer),
            }
            record = {
                "id": f"document_qa-{seed}-{index}",
                "template": "document_qa",
                "seed": seed,
                "index": index,
                "slots": slots,
                "prompt": f"Context: {document}\nQuestion: {question}\nAnswer:",
                "completion": " " + slots["answer"],
            }
            f.write(json.dumps(record, separators=(",", ":")) + "\n")


def write_alone(data: bytes, path: Path) -> None:
    """Write ``data`` in 3 MiB writes, about a chunk each: the floor for any writer."""
    view = memoryview(data)
    with path.open("wb") as f:
        for start in range(0, len(view), 3 << 20):
            f.write(view[start : start + (3 << 20)])


def measure(fn, path: Path, cpus: set[int] | None = None) -> dict[str, float | str]:
    """Wall seconds, user and system CPU seconds (this process and its threads) and the
    sha256 of the file of ``fn(path)``, run on ``cpus`` only if given; the file is removed
    afterwards."""
    allowed = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)  # threads and processes started by fn inherit it
    try:
        before, wall = os.times(), time.perf_counter()
        fn(path)
        wall, after = time.perf_counter() - wall, os.times()
    finally:
        os.sched_setaffinity(0, allowed)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.unlink()
    user, system = after.user - before.user, after.system - before.system
    return {"wall": wall, "user": user, "system": system, "sha256": digest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per measurement")
    parser.add_argument("--quick", action="store_true", help="20,000 samples")
    parser.add_argument("--rounds", type=int, default=5, help="rounds; the best of each is kept")
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="time each run without an untimed run of the same job just before it",
    )
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    template = get_registry().get("templates", "document_qa")
    jobs = [Job("document_qa", n, template.resolve())]
    cores = default_workers()
    one_cpu = {min(os.sched_getaffinity(0))}
    best: dict[str, dict[str, float | str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(jobs, 0, out / "data.jsonl", workers=1)  # builds the vocabulary, untimed
        data = (out / "data.jsonl").read_bytes()
        (out / "data.jsonl").unlink()
        runs = {  # name: (function, CPUs it may use or None for all)
            "loop": (lambda path: plain_loop(n, path), one_cpu),
            "one": (lambda path: generate(jobs, 0, path, workers=1), one_cpu),
            "write": (lambda path: write_alone(data, path), one_cpu),
            "one_free": (lambda path: generate(jobs, 0, path, workers=1), None),
            "all": (lambda path: generate(jobs, 0, path, workers=cores), None),
        }
        for _ in range(args.rounds):
            for name, (run, cpus) in runs.items():
                if args.warmup:  # an untimed run of the same job first
                    measure(run, out / f"{name}.jsonl", cpus)
                result = measure(run, out / f"{name}.jsonl", cpus)
                if name not in best or result["wall"] < best[name]["wall"]:
                    best[name] = result
    wall = {name: float(result["wall"]) for name, result in best.items()}
    rows = [
        ("plain loop, 1 core", "loop"),
        ("cookbook 1 worker, 1 core", "one"),
        ("cookbook 1 worker, writer thread free", "one_free"),
        (f"cookbook {cores} workers, {cores} cores", "all"),
        ("the same bytes written alone, 1 core", "write"),
    ]
    print(f"samples {n}, best of {args.rounds} rounds")
    for label, name in rows:
        print(f"{label:40s} {n / wall[name]:>9,.0f}/s  {1e6 * wall[name] / n:5.1f} us/sample")
    print(f"speedup per core vs loop                 {wall['loop'] / wall['one']:.2f}x")
    print(f"speedup 1 worker (free) vs loop          {wall['loop'] / wall['one_free']:.2f}x")
    print(f"scaling {cores} workers vs 1 worker on 1 core  {wall['one'] / wall['all']:.2f}x")
    print(f"speedup {cores} workers vs loop             {wall['loop'] / wall['all']:.2f}x")
    cpu = {name: (float(best[name]["user"]), float(best[name]["system"])) for name in best}
    print(
        "cpu us/sample, user + system (1 core)    "
        + ", ".join(
            f"{name} {1e6 * u / n:.1f} + {1e6 * s / n:.1f}"
            for name, (u, s) in ((name, cpu[name]) for name in ("loop", "one", "write"))
        )
    )
    print(f"speedup per core vs loop, user CPU       {cpu['loop'][0] / cpu['one'][0]:.2f}x")
    same = best["one"]["sha256"] == best["all"]["sha256"]
    print(f"same bytes 1 vs {cores} workers                {same}")


if __name__ == "__main__":
    main()
