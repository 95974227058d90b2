"""Score sources: the alignment statistic of task data, and proxy training runs."""

from __future__ import annotations

import hashlib
import json
import math
import re
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cookbook.contract.components import TaskRecord
from cookbook.contract.errors import CookbookError
from cookbook.contract.templates import Template, format_fields
from cookbook.engine.mixing.matrix import ScoreMatrix, write_atomically


def example_slots(template: Template, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One generated sample's slots (pseudoword tokens, fixed seed): the types the template's
    slots hold. Empty when the template cannot generate without other setup."""
    from cookbook.contract.seeding import SampleRandom
    from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE
    from cookbook.engine.token_spaces import builtin_token_space

    try:
        space = builtin_token_space(DEFAULT_TOKEN_SPACE)
        return template.make_slots(SampleRandom(0), space, template.resolve(params))
    except Exception:
        return {}


def map_slots(
    slots: Mapping[str, Any], template: Template, example: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A record's slots (made for its own task's template) as input slots of ``template``.

    Slots whose names match are kept. Each input slot that ``template`` shows in its prompt
    (its format string's fields, or its declared slots when the prompt is a function) and that
    the record lacks takes the record's next unused slot holding the same type of value as in
    ``example`` (a generated sample; text when there is none), in the record's order: so a
    task's ``context``/``question`` can stand for ``document``/``question``. Hidden generator
    slots (such as a position) are never invented: scorers must work without them.
    """
    mapped = {k: v for k, v in slots.items() if k != template.output}
    if isinstance(template.prompt, str):
        shown = format_fields(template.prompt)
    else:
        shown = list(template.slots)
    wanted = [s for s in dict.fromkeys(shown) if s != template.output and s not in mapped]
    spare = [k for k in slots if k != template.output and k not in template.slots]
    for slot in wanted:
        kind = type(example[slot]) if example and slot in example else str
        match = next((k for k in spare if isinstance(slots[k], kind)), None)
        if match is not None:
            mapped[slot] = slots[match]
            spare.remove(match)
    return mapped


def record_alignment(
    record: TaskRecord,
    template: Template,
    score: Callable[[Mapping[str, Any], Any], float],
    example: Mapping[str, Any] | None = None,
) -> float:
    """Alignment of one record's gold answers under ``template``: the max over answers.

    ``score(slots, output)`` is the template's bound scorer (``alignment.scoring_function``);
    ``example`` a generated sample of the template, for ``map_slots``.
    A scorer that cannot read the record (a missing slot, a wrong type) gives 0: the task does
    not follow that template's rule. Empty gold answers are not scored (see
    ``alignment.gold_answers``); ``alignment_matrix`` skips a record that has no other.
    """
    from cookbook.engine.alignment import gold_answers

    slots = map_slots(record.slots, template, example)
    best = 0.0
    for answer in gold_answers(record.answers):
        try:
            value = float(score(slots, answer))
        except CookbookError:
            raise
        except Exception:
            value = 0.0
        best = max(best, value if math.isfinite(value) else 0.0)
    return best


def scored_records(
    tasks: Mapping[str, Iterable[TaskRecord]], no_gold: dict[str, int] | None = None
) -> dict[str, list[TaskRecord]]:
    """Each task's records that have a non-empty gold answer (``no_gold`` receives how many
    of each task's had none); a task left with no record is an error."""
    from cookbook.engine.alignment import gold_answers

    records = {}
    for task, recs in tasks.items():
        given = list(recs)
        records[task] = [r for r in given if gold_answers(r.answers)]
        if no_gold is not None:
            no_gold[task] = len(given) - len(records[task])
        if given and not records[task]:
            raise CookbookError(
                f"task {task!r}: none of its {len(given)} records has a non-empty gold answer"
                " to measure alignment on"
            )
        if not records[task]:
            raise CookbookError(f"task {task!r}: no records to measure alignment on")
    return records


def alignment_matrix(
    tasks: Mapping[str, Iterable[TaskRecord]],
    templates: Mapping[str, Template] | Sequence[Template],
    params: Mapping[str, Mapping[str, Any]] | None = None,
    no_gold: dict[str, int] | None = None,
) -> ScoreMatrix:
    """Each task's alignment statistic under each template: no training at all.

    ``tasks`` maps a task name to its dev records; the statistic is the mean over records of
    ``record_alignment`` (max over gold answers), scored as ``cookbook.engine.alignment`` does.
    ``params`` holds per-template parameter overrides. Records without a non-empty gold
    answer are skipped, never scored 0: ``no_gold``, when given, receives how many of each
    task's were (the caller shows it), and a task with no other record is an error.
    """
    from cookbook.engine.alignment import scoring_function

    if not isinstance(templates, Mapping):
        templates = {t.name: t for t in templates}
    params = params or {}
    scorers = {name: scoring_function(t, params.get(name)) for name, t in templates.items()}
    examples = {name: example_slots(t, params.get(name)) for name, t in templates.items()}
    records = scored_records(tasks, no_gold)
    rows = []
    for recs in records.values():
        rows.append(
            [
                statistics.fmean(
                    record_alignment(r, template, scorers[name], examples[name]) for r in recs
                )
                for name, template in templates.items()
            ]
        )
    return ScoreMatrix(tuple(records), tuple(templates), np.array(rows))


def proxy_matrix(
    tasks: Sequence[str],
    templates: Sequence[str],
    train: Callable[[str], Any],
    evaluate: Callable[[Any], Mapping[str, float]],
    *,
    base: Any = None,
    cache_dir: str | Path | None = None,
    fingerprint: str = "",
    on_progress: Callable[[str], None] | None = None,
) -> ScoreMatrix:
    """The paper's scores: each task's dev metric after brief training on one template alone,
    minus the base model's.

    ``train(template)`` returns a model handle; ``evaluate(handle)`` returns ``{task: metric}``
    (``evaluate(base)`` scores the base model). With ``cache_dir``, each template's metrics are
    cached in a file keyed by the template and ``fingerprint`` (which should capture the model,
    trainer settings and task data), so a rerun trains only what changed.
    """
    cache = Path(cache_dir) if cache_dir is not None else None

    def metrics(key: str, run: Callable[[], Mapping[str, float]]) -> dict[str, float]:
        file = cache / _cache_name(key, fingerprint) if cache else None
        cached = _read_cache(file) if file else {}
        if all(t in cached for t in tasks):
            return {t: cached[t] for t in tasks}
        result = dict(run())
        missing = [t for t in tasks if t not in result]
        if missing:
            raise CookbookError(
                f"proxy run {key!r}: the evaluation has no score for {missing[0]!r}"
            )
        if file:
            everything = {t: float(v) for t, v in result.items()}
            text = json.dumps({"template": key, "fingerprint": fingerprint, "scores": everything})
            write_atomically(file, lambda f: f.write(text))
        return {t: float(result[t]) for t in tasks}

    base_scores = metrics("(base model)", lambda: evaluate(base))
    rows = np.zeros((len(tasks), len(templates)))
    for j, template in enumerate(templates):
        scores = metrics(template, lambda t=template: evaluate(train(t)))
        rows[:, j] = [scores[t] - base_scores[t] for t in tasks]
        if on_progress:
            on_progress(template)
    return ScoreMatrix(tuple(tasks), tuple(templates), rows)


def _read_cache(file: Path) -> dict[str, float]:
    """Cached metrics, or nothing when the file is absent or unreadable (then it is redone)."""
    try:
        return {t: float(v) for t, v in json.loads(file.read_text("utf-8"))["scores"].items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def _cache_name(key: str, fingerprint: str) -> str:
    digest = hashlib.sha256(f"{key}\x00{fingerprint}".encode()).hexdigest()[:16]
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', key)}-{digest}.json"
