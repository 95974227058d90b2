"""Generation speed: Cookbook's evaluator against lm-evaluation-harness's ``hf`` model, on
equal footing, for a generation task (greedy decoding, stop at a newline).

Both generate for the same records (the prompts Cookbook's evaluator gives the model, chat
template included, handed to the harness as the same strings, so both sides tokenize them to
the same ids) with the same model object, batch size, dtype, CPU threads, ``max_new_tokens``
and stop sequence, in one process, alternating rounds (the best of each side is kept). Each
side's time is split into the model's forward passes (timed by hooks on the model) and the
rest (tokenising, batching, the decoding loop, stop checks, detokenising); the outputs and the
task's metric are compared, and the last line is ``speedup_vs_lm_eval X``.

    python benchmarks/eval_generation_throughput.py            # TyDi QA (shipped), 40 records
    python benchmarks/eval_generation_throughput.py --limit 50 --max-new-tokens 16

Without lm-evaluation-harness installed (``pip install lm-eval``) only Cookbook's side runs.
"""

from __future__ import annotations

import os

# Idle OpenMP threads sleep instead of spinning (as in the other benchmarks).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "examples/data/tydiqa_english_dev_100.json"


class ForwardClock:
    """Time spent inside the model's forward passes (and in those that read a whole prompt,
    the prefill), their count and the token positions (padding included) through the model."""

    def __init__(self, model: Any) -> None:
        self.reset()
        self._start = 0.0
        model.register_forward_pre_hook(self._before, with_kwargs=True)
        model.register_forward_hook(self._after)

    def reset(self) -> None:
        self.seconds, self.calls, self.positions, self.prefill = 0.0, 0, 0, 0.0
        self._prompt = False

    def _before(self, module: Any, args: tuple, kwargs: dict) -> None:
        ids = args[0] if args else kwargs.get("input_ids")
        self.calls += 1
        self.positions += ids.numel() if ids is not None else 0
        self._prompt = ids is not None and ids.shape[-1] > 1
        self._start = time.perf_counter()

    def _after(self, module: Any, args: tuple, output: Any) -> None:
        seconds = time.perf_counter() - self._start
        self.seconds += seconds
        self.prefill += seconds if self._prompt else 0.0


def time_cookbook(lm: Any, prompts: list[str], args: argparse.Namespace) -> dict:
    """Cookbook's evaluator generating (``EvalModel.generate``, as ``cookbook eval`` calls it)."""
    start = time.perf_counter()
    outputs = lm.generate(prompts, max_new_tokens=args.max_new_tokens, stop="\n",
                          batch_size=args.batch_size)  # fmt: skip
    return {"total": time.perf_counter() - start, "outputs": outputs}


def time_harness(harness: Any, texts: list[str], args: argparse.Namespace) -> dict:
    """lm-evaluation-harness's ``generate_until`` on the same prompt texts."""
    from lm_eval.api.instance import Instance

    settings = {"until": ["\n"], "max_gen_toks": args.max_new_tokens, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={}, arguments=(text, dict(settings)), idx=i)
        for i, text in enumerate(texts)
    ]
    start = time.perf_counter()
    outputs = harness.generate_until(requests, disable_tqdm=True)
    return {"total": time.perf_counter() - start, "outputs": [o.strip() for o in outputs]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="squad", help="a Cookbook generation task")
    parser.add_argument("--data", default=str(DEFAULT_DATA), help="its data file")
    parser.add_argument("--limit", type=int, default=40, help="records to generate for")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=2, help="rounds per side (best is kept)")
    parser.add_argument("--no-harness", action="store_true", help="Cookbook's side only")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args()

    from itertools import islice

    import torch

    from cookbook.engine.evaluation import load_eval_model
    from cookbook.registry import get_registry

    task = get_registry().get("tasks", args.task)
    records = list(islice(task.read(args.data), args.limit))
    prompts = [r.prompt for r in records]
    start = time.perf_counter()
    lm = load_eval_model(args.model)
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = [lm.prompt_text(p) for p in prompts]
    print(
        f"{args.task}: {len(records)} records, batch {args.batch_size}, max_new_tokens"
        f" {args.max_new_tokens}, chat template {lm.chat}, {torch.get_num_threads()} threads;"
        f" cookbook load {time.perf_counter() - start:.2f} s"
    )

    harness = None
    if not args.no_harness:
        try:
            from lm_eval.models.huggingface import HFLM
        except ImportError:
            print("lm-evaluation-harness is not installed: pip install lm-eval (Cookbook only)")
        else:
            harness = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=args.batch_size)
            ours = lm.tokenizer(texts[0], add_special_tokens=not lm.chat)["input_ids"]
            if harness.tok_encode(texts[0]) != ours:
                print("warning: the harness tokenizes the prompts differently")

    clock = ForwardClock(lm.model)
    sides: dict[str, list[dict]] = {"cookbook": [], "lm-eval": []}
    # Both sides do the same work (the same forward calls and token positions, counted below),
    # so on a shared machine the rounds differ mostly by the load of the moment.
    for number in range(args.rounds):
        runs = [("cookbook", lambda: time_cookbook(lm, prompts, args))]
        if harness is not None:
            runs.append(("lm-eval", lambda: time_harness(harness, texts, args)))
        for name, go in runs[:: -1 if number % 2 else 1]:  # each side goes first in turn
            clock.reset()
            result = go()
            result |= {"forward": clock.seconds, "calls": clock.calls, "positions": clock.positions,
                       "prefill": clock.prefill}  # fmt: skip
            sides[name].append(result)
    for number in range(args.rounds):
        times = "  ".join(f"{name} {runs[number]['total']:.2f} s" for name, runs in sides.items()
                          if runs)  # fmt: skip
        print(f"round {number + 1}: {times}")
    best = {name: min(runs, key=lambda r: r["total"]) for name, runs in sides.items() if runs}
    for name, run in best.items():
        metrics = task.metric(records, run["outputs"])
        shown = ", ".join(f"{k} {v:.1f}" for k, v in metrics.items())
        generated = sum(len(lm.tokenizer(o, add_special_tokens=False)["input_ids"])
                        for o in run["outputs"])  # fmt: skip
        print(
            f"{name:9s} total {run['total']:6.2f} s  forward {run['forward']:6.2f} s"
            f" (prefill {run['prefill']:.2f} s)  other {run['total'] - run['forward']:5.2f} s"
            f"  ({run['calls']} forward calls,"
            f" {run['positions']:,} token positions, {generated} answer tokens)  {shown}"
        )
    if "lm-eval" in best:
        ours, theirs = best["cookbook"], best["lm-eval"]
        same = sum(a == b for a, b in zip(ours["outputs"], theirs["outputs"], strict=True))
        print(f"identical outputs: {same} of {len(records)}")
        per_round = sorted(t["total"] / o["total"] for o, t in zip(*sides.values(), strict=True))
        print(f"per round lm-eval / cookbook: {', '.join(f'{r:.2f}' for r in per_round)}")
        print(f"speedup_vs_lm_eval {theirs['total'] / ours['total']:.2f}")


if __name__ == "__main__":
    main()
