"""Decision thresholds for two-choice tasks, fitted on labelled development records.

A model tuned on template data can rank records well (a matching pair gets a larger margin of
"Yes" over "No" than a non-matching one) and still put its boundary in the wrong place, so
that it answers Yes to every pair. The first choice is then picked when its log-likelihood
exceeds the second's by at least a threshold instead of zero; ``fit_threshold`` picks the
threshold that maximises the task's metric on development records, never the evaluated ones.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cookbook.contract.errors import CookbookError

Scores = Sequence[Sequence[float]]


@dataclass(frozen=True)
class DevData:
    """Where the labelled development records are: a path, its split, and which records."""

    path: str
    split: str | None = None
    skip: int = 0
    limit: int | None = None


def check_two_choices(task: str, record_ids: Sequence[str], choices: Sequence[Sequence]) -> None:
    """Raise unless every record has exactly two choices."""
    for record_id, options in zip(record_ids, choices, strict=True):
        if len(options) != 2:
            raise CookbookError(
                f"task {task!r}: a decision threshold needs two choices per record;"
                f" record {record_id} has {len(options)}"
            )


def with_threshold(scores: Scores, threshold: float) -> list[list[float]]:
    """The scores with ``threshold`` taken off the first choice's, so that an arg-max picks
    the first choice exactly when its margin over the second is at least ``threshold``."""
    return [[float(first) - threshold, float(second)] for first, second in scores]


def fit_threshold(scores: Scores, metric: Callable[[list[list[float]]], float]) -> float:
    """The threshold on the first choice's margin that maximises ``metric`` of the shifted
    scores: the best of the midpoints between consecutive margins (and one below and above
    them all); among equally good ones, the one nearest zero, so no evidence means no shift."""
    margins = sorted({float(first) - float(second) for first, second in scores})
    if not margins:
        raise CookbookError("a decision threshold needs at least one development record")
    candidates = [margins[0] - 1.0, margins[-1] + 1.0]
    candidates += [(low + high) / 2 for low, high in zip(margins, margins[1:], strict=False)]
    if margins[0] <= 0.0 <= margins[-1]:
        candidates.append(0.0)
    return max(candidates, key=lambda t: (metric(with_threshold(scores, t)), -abs(t)))
