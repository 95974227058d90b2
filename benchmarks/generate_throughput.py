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


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="samples per measurement")
    parser.add_argument("--quick", action="store_true", help="20,000 samples")
    args = parser.parse_args()
    n = 20_000 if args.quick else args.n
    template = plugins.registry().get("templates", "document_qa")
    jobs = [Job("document_qa", n, template.resolve())]
    cores = default_workers()
    builtin_token_space("pseudowords").words  # noqa: B018 - built outside the timings
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        base = n / timed(plain_loop, n, out / "plain.jsonl")
        one = n / timed(lambda: generate(jobs, 0, out / "w1.jsonl", workers=1))
        every = n / timed(lambda: generate(jobs, 0, out / "wn.jsonl", workers=cores))
        size = (out / "w1.jsonl").stat().st_size / n
    print(f"samples                 {n}  (about {size:.0f} bytes each)")
    print(f"plain_loop_per_second   {base:,.0f}  ({1e6 / base:.1f} us/sample)")
    print(f"cookbook_1_worker       {one:,.0f}  ({1e6 / one:.1f} us/sample)")
    print(f"cookbook_{cores}_workers       {every:,.0f}  ({1e6 / every:.1f} us/sample)")
    print(f"scaling_{cores}_workers        {every / one:.2f}x")
    print(f"speedup_per_core_vs_loop {one / base:.2f}x")


if __name__ == "__main__":
    main()
