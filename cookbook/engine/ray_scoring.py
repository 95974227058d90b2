"""Alignment scoring on Ray: records cut into index ranges, each scored by a Ray task with
the template's own scorer (bound in the worker, as the local engine binds it), the scores
gathered in order, so the statistic and its interval are the local engine's. A record the
scorer cannot read is named with its shard, as the local engine names it."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from cookbook.contract.errors import CookbookError
from cookbook.contract.templates import Template
from cookbook.engine.ray_shards import import_ray, ray_error, start_ray

#: Records per Ray task by default.
SCORE_SHARD_SIZE = 50_000


def _ranges(count: int, shard_size: int) -> list[tuple[int, int]]:
    if shard_size < 1:
        raise CookbookError(f"shard_size must be at least 1, not {shard_size}")
    return [(lo, min(count, lo + shard_size)) for lo in range(0, count, shard_size)]


def _scores_of_range(
    template: Template, slots: list, outputs: list, params: Any, scorer: Any, ids: Any
) -> list[float]:
    from cookbook.engine.alignment import alignment_scores

    return alignment_scores(template, slots, outputs, params, scorer, ids=ids)


def _alignments_of_range(
    records: list, templates: Mapping[str, Template], params: Mapping, examples: Mapping
) -> list[list[float]]:
    """Per template, each record's alignment (``record_alignment``)."""
    from cookbook.engine.alignment import scoring_function
    from cookbook.engine.mixing.sources import record_alignment

    out = []
    for name, template in templates.items():
        score = scoring_function(template, params.get(name))
        out.append([record_alignment(r, template, score, examples[name]) for r in records])
    return out


def _on_ray(
    function: Callable[..., Any],
    calls: list[tuple[str, tuple]],
    address: str | None,
    num_cpus: int | None,
    on_progress: Callable[[int], None] | None,
    sizes: list[int],
) -> list[Any]:
    """``function(*args)`` for each (where, args) as Ray tasks; the results in order, a
    failure named by its ``where``."""
    ray = import_ray()
    from cookbook.engine.ray_mapping import release_ray_models

    release_ray_models()  # a model step's idle actors would hold the CPUs these tasks need
    started = start_ray(ray, address, num_cpus)
    try:
        remote = ray.remote(max_retries=3, retry_exceptions=False)(function)
        refs = {remote.remote(*args): n for n, (_, args) in enumerate(calls)}
        results: list[Any] = [None] * len(calls)
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            n = refs[ready[0]]
            try:
                results[n] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                raise CookbookError(f"{calls[n][0]}: {ray_error(ray, exc)}") from None
            if on_progress:
                on_progress(sizes[n])
        return results
    finally:
        if started:
            ray.shutdown()


def alignment_scores_on_ray(
    template: Template,
    slots_list: Sequence[Mapping[str, Any]],
    outputs: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    scorer: str | None = None,
    ids: Sequence[str] | None = None,
    *,
    address: str | None = None,
    shard_size: int = SCORE_SHARD_SIZE,
    num_cpus: int | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> list[float]:
    """``alignment_scores`` over index ranges of ``shard_size`` records on Ray tasks: the
    same scores in the same order. ``address``: a running cluster, else a local Ray."""
    if len(slots_list) != len(outputs):
        raise CookbookError(
            f"alignment of {template.name!r}: {len(slots_list)} records but {len(outputs)} outputs"
        )
    import_ray()  # its one clear error before any work
    ranges = _ranges(len(outputs), shard_size)
    ids = list(ids) if ids is not None else [f"#{i}" for i in range(len(outputs))]
    calls = []
    for i, (lo, hi) in enumerate(ranges):
        args = (template, list(slots_list[lo:hi]), list(outputs[lo:hi]), dict(params or {}),
                scorer, ids[lo:hi])  # fmt: skip
        calls.append((f"shard {i} (records {lo}-{hi - 1})", args))
    parts = _on_ray(_scores_of_range, calls, address, num_cpus, on_progress,
                    [hi - lo for lo, hi in ranges])  # fmt: skip
    return [score for part in parts for score in part]


def alignment_matrix_on_ray(
    tasks: Mapping[str, Iterable[Any]],
    templates: Mapping[str, Template],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    no_gold: dict[str, int] | None = None,
    *,
    address: str | None = None,
    shard_size: int = SCORE_SHARD_SIZE,
    num_cpus: int | None = None,
) -> Any:
    """``alignment_matrix`` with each task's records scored in index ranges on Ray tasks:
    the same matrix (the same per-record values, averaged in the same order)."""
    from cookbook.engine.mixing.matrix import ScoreMatrix
    from cookbook.engine.mixing.sources import example_slots, scored_records

    params = params or {}
    records = scored_records(tasks, no_gold)
    examples = {name: example_slots(t, params.get(name)) for name, t in templates.items()}
    calls, owners, sizes = [], [], []
    for task, recs in records.items():
        for i, (lo, hi) in enumerate(_ranges(len(recs), shard_size)):
            args = (recs[lo:hi], dict(templates), dict(params), examples)
            calls.append((f"task {task!r}, shard {i} (records {lo}-{hi - 1})", args))
            owners.append(task)
            sizes.append(hi - lo)
    parts = _on_ray(_alignments_of_range, calls, address, num_cpus, None, sizes)
    values: dict[str, list[list[float]]] = {t: [[] for _ in templates] for t in records}
    for task, part in zip(owners, parts, strict=True):
        for column, scores in zip(values[task], part, strict=True):
            column += scores
    rows = [[statistics.fmean(column) for column in values[task]] for task in records]
    return ScoreMatrix(tuple(records), tuple(templates), np.array(rows))
