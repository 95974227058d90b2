"""document_qa samples/s end to end to JSONL, for 1 worker and for all cores.

The baseline is a plain per-sample Python loop written here, the way one would write the
template by hand (a ``random.Random`` per sample, one draw per token, ``json.dumps`` per
record), measured in the same run. The published cost of a template sample is 70 us.
"Per core" runs (the loop, and Cookbook with one worker) are pinned to one CPU, so the
one-worker writer thread shares that core; scaling is all workers against that.

    python benchmarks/generate_throughput.py [--n 200000] [--quick]
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

from cookbook import plugins
from cookbook.generation import Job, default_workers, generate
from cookbook.tokens import builtin_token_space


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


def measure(fn, path: Path, cpus: set[int] | None = None) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process and its threads, sha256 of the file) of
    ``fn(path)``, run on ``cpus`` only if given; the file is removed afterwards so its page
    cache is reused."""
    allowed = os.sched_getaffinity(0)
    if cpus:
        os.sched_setaffinity(0, cpus)  # threads and processes started by fn inherit it
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        fn(path)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        os.sched_setaffinity(0, allowed)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    path.unlink()
    return wall, cpu, digest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per measurement")
    parser.add_argument("--quick", action="store_true", help="20,000 samples")
    parser.add_argument("--rounds", type=int, default=2, help="rounds; the best of each is kept")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    template = plugins.registry().get("templates", "document_qa")
    jobs = [Job("document_qa", n, template.resolve())]
    cores = default_workers()
    builtin_token_space("pseudowords").words  # noqa: B018 - built outside the timings
    one_cpu = {min(os.sched_getaffinity(0))}
    runs = {  # name: (function, CPUs it may use or None for all)
        "loop": (lambda path: plain_loop(n, path), one_cpu),
        "one": (lambda path: generate(jobs, 0, path, workers=1), one_cpu),
        "one_free": (lambda path: generate(jobs, 0, path, workers=1), None),
        "all": (lambda path: generate(jobs, 0, path, workers=cores), None),
    }
    best: dict[str, tuple[float, float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # Touch the page cache first: on a fresh VM, memory written for the first time is several
        # times slower, which would penalise whichever run came first.
        measure(lambda path: path.write_bytes(b"x" * (1500 * n)), out / "warm")
        for _ in range(args.rounds):
            for name, (run, cpus) in runs.items():
                result = measure(run, out / f"{name}.jsonl", cpus)
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
    (loop_wall, loop_cpu, _), (one_wall, one_cpu_s, one_hash) = best["loop"], best["one"]
    free_wall, all_wall, all_hash = best["one_free"][0], best["all"][0], best["all"][2]
    rows = [
        ("plain loop, 1 core", loop_wall),
        ("cookbook 1 worker, 1 core", one_wall),
        ("cookbook 1 worker, writer thread free", free_wall),
        (f"cookbook {cores} workers, {cores} cores", all_wall),
    ]
    print(f"samples {n}, best of {args.rounds} rounds")
    for label, wall in rows:
        print(f"{label:40s} {n / wall:>9,.0f}/s  {1e6 * wall / n:5.1f} us/sample")
    print(f"speedup per core vs loop                 {loop_wall / one_wall:.2f}x")
    print(f"speedup 1 worker (free) vs loop          {loop_wall / free_wall:.2f}x")
    print(f"scaling {cores} workers vs 1 worker on 1 core  {one_wall / all_wall:.2f}x")
    print(f"speedup {cores} workers vs loop             {loop_wall / all_wall:.2f}x")
    print(
        f"cpu us/sample                            loop {1e6 * loop_cpu / n:.1f}, "
        f"1 worker on 1 core {1e6 * one_cpu_s / n:.1f}, free {1e6 * best['one_free'][1] / n:.1f}"
    )
    print(f"same bytes 1 vs {cores} workers                {one_hash == all_hash}")


if __name__ == "__main__":
    main()
