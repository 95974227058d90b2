"""The objectives the ``cvxpy`` mixer optimises, evaluated for a given mixture, and how solver
output becomes a mixture. cvxpy is needed to solve, not to evaluate; numpy loads on first use,
so the mixers plugin imports fast."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from cookbook import CookbookError, did_you_mean

if TYPE_CHECKING:
    import numpy as np

    from cookbook.engine import ScoreMatrix

    Scores = ScoreMatrix | Mapping[str, Mapping[str, float]]
else:
    #: A ``ScoreMatrix`` or ``{task: {template: score}}``; ``Any`` at run time, so that
    #: ``Params.of`` resolves the mixers' annotations without importing numpy.
    Scores = Any

Objective = Literal["mean", "maxmin"]
Regularization = Literal["entropy", "l2"]
OBJECTIVES: tuple[str, ...] = get_args(Objective)
REGULARIZATIONS: tuple[str, ...] = get_args(Regularization)
#: Weights below this are solver noise (one sample in a million): cleaned to zero.
WEIGHT_EPSILON = 1e-6


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def task_weight_vector(matrix: ScoreMatrix, task_weights: Mapping[str, float] | None) -> np.ndarray:
    """Normalised importance of each task for the ``mean`` objective (unnamed tasks weigh 1)."""
    import numpy as np

    task_weights = task_weights or {}
    for task, value in task_weights.items():
        if task not in matrix.tasks:
            raise CookbookError(
                f"task_weights: task {task!r} is not in the score matrix"
                f"{did_you_mean(task, matrix.tasks, cutoff=0.5)}"
            )
        if not _is_number(value) or not math.isfinite(float(value)) or float(value) < 0:
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
        import numpy as np

        positive = weights[weights > 0]
        return float(-(positive * np.log(positive)).sum())
    if regularization == "l2":
        return float((weights**2).sum())
    raise CookbookError(
        f"regularization must be one of {', '.join(REGULARIZATIONS)}, got {regularization!r}"
    )


def objective_value(
    weights: Mapping[str, float],
    scores: Scores,
    objective: str = "mean",
    task_weights: Mapping[str, float] | None = None,
    regularization: str | None = None,
    strength: float = 0.0,
) -> float:
    """The value a mixture achieves: the (task-weighted) mean or the worst task's predicted
    score, plus ``strength`` x entropy (or minus ``strength`` x sum of squares)."""
    from cookbook.engine import as_matrix

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
    import numpy as np

    w = np.where(np.asarray(weights, dtype=float) < WEIGHT_EPSILON, 0.0, weights)
    if w.sum() <= 0:
        raise CookbookError("mixer returned no positive weight")
    w = w / w.sum()
    return {t: round(float(v), 10) for t, v in zip(templates, w, strict=True)}
