"""Mixing maths: predicted scores under the linear mixing assumption and exact counts (the
objectives a mixer optimises belong to that mixer's plugin)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing.matrix import ScoreMatrix, as_matrix, is_number


def uniform(templates: Sequence[str]) -> dict[str, float]:
    """Equal weight on every template."""
    return {t: 1.0 / len(templates) for t in templates}


def predicted(
    weights: Mapping[str, float], scores: ScoreMatrix | Mapping[str, Mapping[str, float]]
) -> dict[str, float]:
    """Each task's predicted score under the linear mixing assumption: ``S @ w``."""
    matrix = as_matrix(scores)
    values = matrix.values @ matrix.weight_vector(weights)
    return {task: float(v) for task, v in zip(matrix.tasks, values, strict=True)}


def largest_remainder(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Integer counts summing to exactly ``total``, proportional to ``weights``.

    Each template gets the floor of its quota; the leftover samples go to the largest
    fractional parts. Ties (equal to 1e-9) go to the larger weight, then to the name that
    sorts first, so the result never depends on dictionary order or float noise.
    """
    if not isinstance(total, int) or isinstance(total, bool) or total < 0:
        raise CookbookError(f"total must be an integer >= 0, got {total!r}")
    for name, value in weights.items():
        if not is_number(value) or not math.isfinite(float(value)) or float(value) < 0:
            raise CookbookError(f"weights.{name}: must be a number >= 0, got {value!r}")
    mass = sum(float(v) for v in weights.values())
    if mass <= 0:
        raise CookbookError("weights: at least one template needs a positive weight")
    quotas = {t: float(v) * total / mass for t, v in weights.items()}
    counts = {t: math.floor(q + 1e-9) for t, q in quotas.items()}
    if sum(counts.values()) > total:
        counts = {t: math.floor(q) for t, q in quotas.items()}
    leftover = total - sum(counts.values())
    order = sorted(
        weights,
        key=lambda t: (-round(quotas[t] - counts[t], 9), -round(float(weights[t]), 12), t),
    )
    for name in order[:leftover]:
        counts[name] += 1
    return counts
