"""The template alignment statistic: how much outputs follow a template's rule, with an interval.

``alignment_scores`` scores each output (or the best of several gold answers) with the
template's own scorer or a registered ``Scorer``; ``summarize`` turns the scores into the
statistic (their mean) and a 95% confidence interval. Mixing, evaluation and the pipeline
reuse both.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Any

from cookbook.contract.components import Scorer
from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params
from cookbook.contract.templates import Template, bind_params


@dataclass(frozen=True)
class AlignmentSummary:
    """The alignment statistic (mean score) of ``n`` records and its confidence interval."""

    statistic: float
    n: int
    ci_low: float
    ci_high: float
    std_error: float
    confidence: float = 0.95

    def as_json(self) -> dict[str, Any]:
        """A JSON-ready dict of the summary."""
        return asdict(self)


def resolve_scorer(template: Template, scorer: str | Scorer | None) -> Scorer | None:
    """The ``Scorer`` named or given (None: the template's own); it must score ``template``."""
    if scorer is None:
        return None
    if isinstance(scorer, str):
        from cookbook.registry import get_registry

        scorer = get_registry().get("scorers", scorer)
    target = getattr(scorer, "template", None)
    if target is not None and target.rpartition(":")[2] != template.name:
        raise CookbookError(
            f"scorer {scorer.name!r} scores template {target!r}, not {template.name!r}"
        )
    return scorer


def scoring_function(
    template: Template,
    params: Mapping[str, Any] | None = None,
    scorer: str | Scorer | None = None,
) -> Callable[[Mapping[str, Any], Any], float]:
    """``score(slots, output)`` for ``template`` under ``params`` (validated, defaults filled).

    A registered scorer receives the template's parameters it declares, and its own (the
    parameters of its ``score`` that the template does not have). Parameters are bound once,
    so scoring many records pays no per-record overhead.
    """
    chosen = resolve_scorer(template, scorer)
    if chosen is None:
        return template.scoring(template.own_params(template.resolve(params)))
    given = dict(params or {})
    shared = {k: v for k, v in given.items() if k in template.params}
    resolved = template.own_params(template.resolve(shared))
    own = Params.of_component(chosen).without(template.params.names)
    extra = own.resolve(
        f"scorer {chosen.name!r}", {k: v for k, v in given.items() if k not in shared}
    )
    return bind_params(chosen.score, {**resolved, **extra})


def alignment_scores(
    template: Template,
    slots_list: Sequence[Mapping[str, Any]],
    outputs: Sequence[Any],
    params: Mapping[str, Any] | None = None,
    scorer: str | Scorer | None = None,
    ids: Sequence[str] | None = None,
) -> list[float]:
    """One score in [0, 1] per record; where ``outputs[i]`` is a list (several gold answers),
    the best score over them. ``ids`` name the records in errors."""
    if len(slots_list) != len(outputs):
        raise CookbookError(
            f"alignment of {template.name!r}: {len(slots_list)} records but {len(outputs)} outputs"
        )
    score = scoring_function(template, params, scorer)
    scores = []
    for i, (slots, output) in enumerate(zip(slots_list, outputs, strict=True)):
        try:
            if isinstance(output, (list, tuple)):  # noqa: UP038 - faster than a union
                scores.append(max((float(score(slots, o)) for o in output), default=0.0))
            else:
                scores.append(float(score(slots, output)))
        except CookbookError:
            raise
        except Exception as exc:
            name = ids[i] if ids is not None else f"#{i}"
            raise CookbookError(
                f"scoring record {_clip(str(name))} with {template.name!r} failed:"
                f" {_slot_problem(exc, slots)}"
            ) from exc
    return scores


def _slot_problem(exc: Exception, slots: Mapping[str, Any]) -> str:
    """Why a scorer could not read a record, in the record's terms."""
    have = ", ".join(_clip(str(k)) for k in slots) or "none"
    if isinstance(exc, KeyError) and exc.args:
        return (
            f"the record has no slot {_clip(repr(exc.args[0]))} (its slots: {have});"
            " do its slots match the template's?"
        )
    detail = str(exc) or type(exc).__name__
    return f"its slots do not fit the template's scorer ({_clip(detail, 200)}; its slots: {have})"


def _clip(text: str, width: int = 80) -> str:
    return text if len(text) <= width else f"{text[:width]}… ({len(text) - width:,} more)"


def gold_answers(answers: Any) -> list[Any]:
    """A record's gold answers without the empty ones (``""``, blanks, null): an empty gold
    answer says nothing about a template's rule, so it is never scored (as 0 or otherwise).
    Callers skip a record left with none and say how many they skipped."""
    if isinstance(answers, str):
        answers = [answers]
    return [
        a for a in answers or [] if a is not None and not (isinstance(a, str) and not a.strip())
    ]


def summarize(scores: Sequence[float], confidence: float = 0.95) -> AlignmentSummary:
    """Mean of ``scores`` with a normal-approximation confidence interval, clipped to [0, 1]."""
    n = len(scores)
    if n == 0:
        raise CookbookError("no records to compute the alignment statistic over")
    if not 0 < confidence < 1:
        raise CookbookError(f"confidence must be between 0 and 1, not {confidence}")
    mean = math.fsum(scores) / n
    variance = math.fsum((s - mean) ** 2 for s in scores) / (n - 1) if n > 1 else 0.0
    std_error = math.sqrt(variance / n)
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * std_error
    return AlignmentSummary(
        statistic=mean,
        n=n,
        ci_low=max(0.0, mean - half),
        ci_high=min(1.0, mean + half),
        std_error=std_error,
        confidence=confidence,
    )
