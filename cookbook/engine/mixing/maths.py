"""Mixing maths: predicted scores under the linear mixing assumption, objectives, exact counts."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing.matrix import (
    OBJECTIVES,
    REGULARIZATIONS,
    WEIGHT_EPSILON,
    ScoreMatrix,
    as_matrix,
    is_number,
    suggest,
)


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


def task_weight_vector(matrix: ScoreMatrix, task_weights: Mapping[str, float] | None) -> np.ndarray:
    """Normalised importance of each task for the ``mean`` objective (unnamed tasks weigh 1)."""
    task_weights = task_weights or {}
    for task, value in task_weights.items():
        if task not in matrix.tasks:
            raise CookbookError(
                f"task_weights: task {task!r} is not in the score matrix"
                f"{suggest(task, matrix.tasks)}"
            )
        if not is_number(value) or not math.isfinite(float(value)) or float(value) < 0:
            raise CookbookError(f"task_weights.{task}: must be a number >= 0, got {value!r}")
    vector = np.array([float(task_weights.get(t, 1.0)) for t in matrix.tasks])
    if vector.sum() <= 0:
        raise CookbookError("task_weights: at least one task needs a positive weight")
    return vector / vector.sum()


def regularizer_value(weights: np.ndarray, regularization: str | None) -> float:
    """Entropy of the weights (``entropy``, to reward spread) or their sum of squares (``l2``)."""
    if regularization is None:
        return 0.0
    if regularization == "entropy":
        positive = weights[weights > 0]
        return float(-(positive * np.log(positive)).sum())
    if regularization == "l2":
        return float((weights**2).sum())
    raise CookbookError(
        f"regularization must be one of {', '.join(REGULARIZATIONS)}, got {regularization!r}"
    )


def objective_value(
    weights: Mapping[str, float],
    scores: ScoreMatrix | Mapping[str, Mapping[str, float]],
    objective: str = "mean",
    task_weights: Mapping[str, float] | None = None,
    regularization: str | None = None,
    strength: float = 0.0,
) -> float:
    """The value a mixture achieves: the (task-weighted) mean or the worst task's predicted
    score, plus ``strength`` x entropy (or minus ``strength`` x sum of squares)."""
    matrix = as_matrix(scores)
    w = matrix.weight_vector(weights)
    per_task = matrix.values @ w
    if objective == "mean":
        value = float(task_weight_vector(matrix, task_weights) @ per_task)
    elif objective == "maxmin":
        value = float(per_task.min())
    else:
        raise CookbookError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    penalty = regularizer_value(w, regularization)
    return value + strength * penalty if regularization == "entropy" else value - strength * penalty


def clean_weights(weights: np.ndarray, templates: Sequence[str]) -> dict[str, float]:
    """Solver output as a mixture: noise below ``WEIGHT_EPSILON`` to 0, renormalised, rounded."""
    w = np.where(np.asarray(weights, dtype=float) < WEIGHT_EPSILON, 0.0, weights)
    if w.sum() <= 0:
        raise CookbookError("mixer returned no positive weight")
    w = w / w.sum()
    return {t: round(float(v), 10) for t, v in zip(templates, w, strict=True)}


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
