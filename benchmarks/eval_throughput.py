"""Evaluation speed: Cookbook's choice scoring against lm-evaluation-harness, on equal footing.

Both score the same records (the harness's own (context, continuation) pairs, which
Cookbook's tasks build for every dataset of the GPT4ALL suite; tests/test_lm_eval_conventions.py
checks that) with the same model object, batch size, dtype and CPU threads, in one process,
alternating rounds. Each side's time is split into loading, tokenising and forward passes; the
log-likelihoods of the two are compared pair by pair, and the last line is
``speedup_vs_lm_eval X`` (tokenising plus forward passes, best round of each).

    python benchmarks/eval_throughput.py                       # ARC-Easy, first 200 records
    python benchmarks/eval_throughput.py --task boolq \
        --data ../shared/data/multiple_choice/boolq.jsonl

Without lm-evaluation-harness installed (``pip install lm-eval``) only Cookbook's side runs,
with and without shared contexts.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning (as in the training benchmark).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared/data/multiple_choice/arc_easy.jsonl"


def read_pairs(task: str, data: str, limit: int) -> tuple[list[Any], list[tuple[str, str]]]:
    """The task's first ``limit`` records and the (context, continuation) pair of each choice."""
    from itertools import islice

    from cookbook.registry import get_registry

    records = list(islice(get_registry().get("tasks", task).read(data), limit))
    pairs = [
        (record.choice_context(i), choice)
        for record in records
        for i, choice in enumerate(record.choices)
    ]
    return records, pairs


def accuracy(records: list[Any], scores: list[float]) -> float:
    """Share of records whose gold choice has the highest summed log-likelihood."""
    from cookbook import best_choice

    right, start = 0, 0
    for record in records:
        count = len(record.choices)
        right += best_choice(scores[start : start + count]) == record.gold
        start += count
    return 100 * right / len(records)


def time_cookbook(lm: Any, pairs: list[tuple[str, str]], batch: int, shared: bool) -> dict:
    """Cookbook's tokenising time and its whole scoring time (tokenising + forward passes)."""
    from cookbook.engine.inference import continuation_logprobs, encode_pair

    start = time.perf_counter()
    for context, continuation in pairs:
        encode_pair(lm.tokenizer, context, continuation, True, joint=True)
    tokenise = time.perf_counter() - start
    start = time.perf_counter()
    scores = continuation_logprobs(
        lm.model, lm.tokenizer, pairs, batch_size=batch, joint=True, shared_contexts=shared
    )
    total = time.perf_counter() - start
    return {"tokenise": tokenise, "forward": total - tokenise, "total": total, "scores": scores}


def time_harness(harness: Any, pairs: list[tuple[str, str]]) -> dict:
    """lm-evaluation-harness's tokenising (``_encode_pair``) and forward passes
    (``_loglikelihood_tokens``), as its ``loglikelihood`` runs them."""
    start = time.perf_counter()
    encoded = [((c, t), *harness._encode_pair(c, t)) for c, t in pairs]
    tokenise = time.perf_counter() - start
    start = time.perf_counter()
    out = harness._loglikelihood_tokens(encoded, disable_tqdm=True)
    forward = time.perf_counter() - start
    scores = [float(value) for value, _ in out]
    return {"tokenise": tokenise, "forward": forward, "total": tokenise + forward, "scores": scores}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="arc_easy", help="a Cookbook choice task")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="its data file")
    parser.add_argument("--limit", type=int, default=200, help="records to score")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per side (best is kept)")
    parser.add_argument("--no-harness", action="store_true", help="Cookbook's side only")
    args = parser.parse_args()

    import torch

    from cookbook.engine.evaluation import load_eval_model
    from cookbook.engine.models import resolve_model_path

    records, pairs = read_pairs(args.task, args.data, args.limit)
    print(f"{args.task}: {len(records)} records, {len(pairs)} (context, continuation) pairs")
    start = time.perf_counter()
    lm = load_eval_model(args.model, chat_template=False)
    threads = torch.get_num_threads()
    print(f"cookbook load  {time.perf_counter() - start:6.2f} s  ({threads} threads)")

    harness = None
    if not args.no_harness:
        try:
            from lm_eval.models.huggingface import HFLM
        except ImportError:
            print("lm-evaluation-harness is not installed: pip install lm-eval (Cookbook only)")
        else:
            start = time.perf_counter()
            HFLM(pretrained=str(resolve_model_path(args.model)), dtype="float32", device="cpu")
            print(f"lm-eval load   {time.perf_counter() - start:6.2f} s  (its own loading)")
            harness = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=args.batch_size)

    counted = [0, 0]  # forward calls, token positions through the model (padding included)

    def count(module: Any, args: tuple, kwargs: dict) -> None:
        ids = args[0] if args else kwargs["input_ids"]
        counted[0] += 1
        counted[1] += ids.numel()

    lm.model.register_forward_pre_hook(count, with_kwargs=True)
    sides: dict[str, list[dict]] = {
        "cookbook": [],
        "cookbook (one sequence per pair)": [],
        "lm-eval": [],
    }
    for _ in range(args.rounds):
        runs = [
            ("cookbook", lambda: time_cookbook(lm, pairs, args.batch_size, shared=True)),
            (
                "cookbook (one sequence per pair)",
                lambda: time_cookbook(lm, pairs, args.batch_size, shared=False),
            ),
        ]
        if harness is not None:
            runs.append(("lm-eval", lambda: time_harness(harness, pairs)))
        for name, go in runs:
            counted[:] = [0, 0]
            result = go()
            result["calls"], result["positions"] = counted
            sides[name].append(result)
    best = {name: min(runs, key=lambda r: r["total"]) for name, runs in sides.items() if runs}
    for name, run in best.items():
        print(
            f"{name:34s} tokenise {run['tokenise']:6.2f} s  forward {run['forward']:6.2f} s"
            f"  total {run['total']:6.2f} s  acc {accuracy(records, run['scores']):.1f}"
            f"  ({run['calls']} forward calls, {run['positions']:,} token positions)"
        )
    ours = best["cookbook"]
    plain = best["cookbook (one sequence per pair)"]
    gap = max(abs(a - b) for a, b in zip(ours["scores"], plain["scores"], strict=True))
    print(f"shared contexts vs one sequence per pair: max |difference| {gap:.2e}")
    print(f"speedup_vs_one_sequence_per_pair {plain['total'] / ours['total']:.2f}")
    if "lm-eval" in best:
        theirs = best["lm-eval"]
        gap = max(abs(a - b) for a, b in zip(ours["scores"], theirs["scores"], strict=True))
        print(f"cookbook vs lm-eval: max |log-likelihood difference| {gap:.2e}")
        print(f"speedup_vs_lm_eval {theirs['total'] / ours['total']:.2f}")


if __name__ == "__main__":
    main()
