"""Running lm-evaluation-harness tasks on a model (and an adapter) from Cookbook, offline."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from cookbook import CookbookError

NEEDS = "the lm-eval harness needs lm-evaluation-harness: pip install 'cookbook-llm[eval]'"


def run_harness(
    tasks: Sequence[str],
    model: str,
    adapter: str | None = None,
    *,
    include_path: str | None = None,
    limit: int | None = None,
    batch_size: int = 8,
    num_fewshot: int | None = None,
    device: str = "cpu",
) -> dict[str, dict[str, float]]:
    """Each task's metrics (``acc``, ``acc_norm``, ...; the ``,none`` filter suffix dropped)
    from lm-eval's ``hf`` model on ``model`` with ``adapter`` applied (peft)."""
    try:
        import lm_eval
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise CookbookError(NEEDS) from None
    import cookbook.engine as engine

    args: dict[str, Any] = {"pretrained": str(engine.resolve_model_path(model)), "dtype": "float32"}
    if adapter:
        args["peft"] = adapter
    manager = TaskManager(include_path=include_path, verbosity="ERROR")
    unknown = [t for t in tasks if t not in manager.all_tasks]
    if unknown:
        where = f" (looked in {include_path} too)" if include_path else ""
        raise CookbookError(f"lm-eval has no task {unknown[0]!r}{where}")
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    output = lm_eval.simple_evaluate(
        model="hf",
        model_args=args,
        tasks=list(tasks),
        batch_size=batch_size,
        limit=limit,
        num_fewshot=num_fewshot,
        device=device,
        task_manager=manager,
        log_samples=False,
        bootstrap_iters=0,
        verbosity="ERROR",
    )
    results = {}
    for task in tasks:
        raw = output["results"][task]
        results[task] = {
            key.split(",")[0]: float(value)
            for key, value in raw.items()
            if isinstance(value, int | float) and "stderr" not in key and key != "alias"
        }
    return results
