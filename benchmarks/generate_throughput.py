"""document_qa samples/s end to end to JSONL, for 1 worker and for all cores.

The baseline is a plain per-sample Python loop written here, the way one would write the
template by hand (a ``random.Random`` per sample, one draw per token, ``json.dumps`` per
record), measured in the same run. The published cost of a template sample is 70 us.

    python benchmarks/generate_throughput.py [--n 200000] [--quick]
"""

from __future__ import annotations

import argparse
import hashlib
import json
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


def measure(fn, path: Path) -> tuple[float, float, str]:
    """(wall seconds, CPU seconds of this process and its threads, sha256 of the file) of
    ``fn(path)``; the file is removed afterwards so its page cache is reused."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
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
    runs = {
        "loop": lambda path: plain_loop(n, path),
        "one": lambda path: generate(jobs, 0, path, workers=1),
        "all": lambda path: generate(jobs, 0, path, workers=cores),
    }
    best: dict[str, tuple[float, float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        # Touch the page cache first: on a fresh VM, memory written for the first time is several
        # times slower, which would penalise whichever run came first.
        measure(lambda path: path.write_bytes(b"x" * (1500 * n)), out / "warm")
        for _ in range(args.rounds):
            for name, run in runs.items():
                result = measure(run, out / f"{name}.jsonl")
                if name not in best or result[0] < best[name][0]:
                    best[name] = result
    (loop_wall, loop_cpu, _), (one_wall, one_cpu, one_hash) = best["loop"], best["one"]
    all_wall, _, all_hash = best["all"]
    print(f"samples                  {n}, best of {args.rounds} rounds")
    print(f"plain_loop_per_second    {n / loop_wall:,.0f}  ({1e6 * loop_wall / n:.1f} us/sample)")
    print(f"cookbook_1_worker        {n / one_wall:,.0f}  ({1e6 * one_wall / n:.1f} us/sample)")
    print(
        f"cookbook_{cores}_workers        {n / all_wall:,.0f}  ({1e6 * all_wall / n:.1f} us/sample)"
    )
    print(f"scaling_{cores}_workers         {one_wall / all_wall:.2f}x")
    print(f"speedup_1_worker_vs_loop {loop_wall / one_wall:.2f}x  (wall clock)")
    print(
        f"cpu_us_per_sample        loop {1e6 * loop_cpu / n:.1f}, 1 worker {1e6 * one_cpu / n:.1f}"
    )
    print(f"cpu_speedup_vs_loop      {loop_cpu / one_cpu:.2f}x  (all threads)")
    print(f"same_bytes_1_vs_{cores}        {one_hash == all_hash}")


if __name__ == "__main__":
    main()
