"""The ``cvxpy`` mixer (Cookbook-Mix): a convex program over the simplex that maximises the mean
or the worst task's predicted score, with optional regularization and per-template bounds."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any

from cookbook import UNSET, CookbookError, Param, Params, did_you_mean
from cookbook_plugins.mixers.objectives import Objective, Regularization, Scores

if TYPE_CHECKING:  # numpy and the mixing maths load on first use: list-plugins stays fast
    import numpy as np

    from cookbook.engine import ScoreMatrix

#: Solvers that ship with cvxpy, in order of preference (CLARABEL handles every objective here).
SOLVERS = ("CLARABEL", "ECOS", "SCS")
#: Tighter than the defaults, so hand-solvable answers come out exact to about 1e-9.
CLARABEL_SETTINGS = {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10}
#: Among mixtures within this (relative) distance of the optimum, the least concentrated wins.
OPTIMUM_TOLERANCE = 1e-9

_UNIT = {"type": "number", "minimum": 0, "maximum": 1}
#: ``min_weight`` and ``max_weight``: optional, absent unless given.
Bound = Annotated[
    float | Mapping[str, float] | None,
    Param(
        "A number for every template, or {template: number}; key '*' sets the rest.",
        oneOf=[_UNIT, {"type": "object", "additionalProperties": _UNIT}, {"type": "null"}],
    ),
]


class CvxpyMixer:
    """Cookbook-Mix: weights on the simplex that maximise the mean or the worst task's predicted
    score, with optional regularization and per-template bounds."""

    name = "cvxpy"
    description = "Learned mixture (convex program): mean or max-min predicted task score."

    def mix(
        self,
        scores: Scores,
        *,
        objective: Annotated[
            Objective, Param("mean: the tasks' (weighted) mean; maxmin: the worst task's.")
        ] = "mean",
        task_weights: Annotated[
            Mapping[str, float] | None,
            Param(
                "Importance of each task in the mean (unnamed tasks weigh 1).",
                type=["object", "null"],
                additionalProperties={"type": "number", "minimum": 0},
            ),
        ] = UNSET,
        regularization: Annotated[
            Regularization | None,
            Param("entropy rewards spread weights, l2 penalises concentrated ones."),
        ] = None,
        strength: Annotated[
            float | None, Param("Weight of the regularization (needs one).", minimum=0)
        ] = None,
        min_weight: Bound = UNSET,
        max_weight: Bound = UNSET,
    ) -> dict[str, float]:
        """The optimal weights; ties between optimal mixtures go to the least concentrated."""
        from cookbook.engine import as_matrix
        from cookbook_plugins.mixers.objectives import clean_weights

        owner = f"mixer {self.name!r}"
        task_weights = None if task_weights is UNSET else task_weights
        min_weight = None if min_weight is UNSET else min_weight
        max_weight = None if max_weight is UNSET else max_weight
        if regularization is not None and not strength:
            raise CookbookError(f"{owner}: regularization {regularization!r} needs a strength > 0")
        matrix = as_matrix(scores)
        low = _bound_vector(owner, "min_weight", min_weight, matrix.templates, 0.0)
        high = _bound_vector(owner, "max_weight", max_weight, matrix.templates, 1.0)
        _check_feasible(owner, matrix.templates, low, high)
        weights = _solve(
            owner, matrix, objective, task_weights, regularization, strength or 0.0, low, high
        )
        return clean_weights(weights, matrix.templates)

    params = Params.of(mix)

    def objective_name(self, objective: str = "mean", **_params: Any) -> str:
        """The objective these parameters optimise: ``mean`` or ``maxmin``."""
        return objective

    def objective_value(
        self,
        scores: Scores,
        weights: Mapping[str, float],
        objective: str = "mean",
        task_weights: Mapping[str, float] | None = None,
        regularization: str | None = None,
        strength: float | None = None,
        **_bounds: Any,
    ) -> float:
        """The value ``weights`` achieve on the objective these parameters describe."""
        from cookbook_plugins.mixers.objectives import objective_value

        return objective_value(
            weights, scores, objective, task_weights, regularization, strength or 0.0
        )


def _bound_vector(
    owner: str,
    key: str,
    bound: float | Mapping[str, float] | None,
    templates: tuple[str, ...],
    default: float,
) -> np.ndarray:
    """Per-template bounds from a number (every template) or a mapping (``*`` for the rest)."""
    import numpy as np

    if bound is None:
        return np.full(len(templates), default)
    if not isinstance(bound, Mapping):
        return np.full(len(templates), float(bound))
    for name in bound:
        if name != "*" and name not in templates:
            hint = did_you_mean(name, templates, cutoff=0.5)
            raise CookbookError(f"{owner}: {key}.{name}: not a template of the scores{hint}")
    rest = float(bound.get("*", default))
    return np.array([float(bound.get(t, rest)) for t in templates])


def _listing(templates: tuple[str, ...], values: np.ndarray) -> str:
    shown = [f"{t}={v:g}" for t, v in zip(templates, values, strict=True)]
    return ", ".join(shown[:6]) + (f", ... ({len(shown)} templates)" if len(shown) > 6 else "")


def _check_feasible(owner: str, templates: tuple[str, ...], low: np.ndarray, high: np.ndarray):
    """Reject bounds that no mixture can meet, naming the constraint that fails."""
    for name, lo, hi in zip(templates, low, high, strict=True):
        if lo > hi:
            raise CookbookError(
                f"{owner}: template {name!r} has min_weight {lo:g} above its max_weight {hi:g}"
            )
    if low.sum() > 1 + 1e-12:
        raise CookbookError(
            f"{owner}: min_weight: the minimum weights sum to {low.sum():g} > 1, so no mixture "
            f"meets them ({_listing(templates, low)})"
        )
    if high.sum() < 1 - 1e-12:
        raise CookbookError(
            f"{owner}: max_weight: the maximum weights sum to {high.sum():g} < 1, so no mixture "
            f"meets them ({_listing(templates, high)})"
        )


def _solver(cp: Any) -> str:
    installed = set(cp.installed_solvers())
    for name in SOLVERS:
        if name in installed:
            return name
    raise CookbookError(f"the cvxpy mixer needs one of the solvers {', '.join(SOLVERS)}")


def _solve(
    owner: str,
    matrix: ScoreMatrix,
    objective: str,
    task_weights: Mapping[str, float] | None,
    regularization: str | None,
    strength: float,
    low: np.ndarray,
    high: np.ndarray,
) -> np.ndarray:
    """Solve the program; without a strictly concave regularizer, solve a second time for the
    least concentrated (minimum sum of squares) mixture among the optimal ones."""
    import numpy as np

    from cookbook_plugins.mixers.objectives import task_weight_vector

    try:
        import cvxpy as cp
    except ImportError:
        raise CookbookError(f"{owner} needs cvxpy: pip install 'cookbook-llm[mix]'") from None
    scores = matrix.values
    w = cp.Variable(len(matrix.templates))
    lower = w >= low
    constraints = [cp.sum(w) == 1, lower]
    if (high < 1).any():
        constraints.append(w <= high)
    column_means = (
        task_weight_vector(matrix, task_weights) @ scores if objective == "mean" else None
    )
    if column_means is not None:
        goal = column_means @ w
    else:
        goal = cp.Variable()
        constraints.append(scores @ w >= goal)
    if regularization == "entropy":
        goal = goal + strength * cp.sum(cp.entr(w))
    elif regularization == "l2":
        goal = goal - strength * cp.sum_squares(w)
    solver = _solver(cp)
    optimum = _run(owner, cp, cp.Problem(cp.Maximize(goal), constraints), solver, low, high)
    first = np.asarray(w.value, dtype=float)
    if regularization is not None:
        return first
    # Complementary slackness: a template whose lower bound has a dual larger than its slack
    # sits at that bound in every optimal mixture, so the second solve leaves it there.
    free = ~(np.asarray(lower.dual_value, dtype=float) > first - low)
    slack = OPTIMUM_TOLERANCE * max(1.0, float(np.abs(scores).max()))
    try:
        return _least_concentrated(
            owner, cp, solver, scores, column_means, optimum - slack, low, high, free
        )
    except CookbookError:
        return first


def _least_concentrated(
    owner: str,
    cp: Any,
    solver: str,
    scores: np.ndarray,
    column_means: np.ndarray | None,
    floor: float,
    low: np.ndarray,
    high: np.ndarray,
    free: np.ndarray,
) -> np.ndarray:
    """The minimum-sum-of-squares mixture whose objective is at least ``floor``, moving only
    the ``free`` templates (the others stay at their lower bounds)."""
    weights = low.copy()
    if not free.any():
        return weights
    fixed = ~free
    v = cp.Variable(int(free.sum()))
    constraints = [cp.sum(v) == 1 - low[fixed].sum(), v >= low[free]]
    if (high[free] < 1).any():
        constraints.append(v <= high[free])
    if column_means is not None:
        constraints.append(column_means[free] @ v + column_means[fixed] @ low[fixed] >= floor)
    else:
        constraints.append(scores[:, free] @ v + scores[:, fixed] @ low[fixed] >= floor)
    _run(owner, cp, cp.Problem(cp.Minimize(cp.sum_squares(v)), constraints), solver, low, high)
    weights[free] = v.value
    return weights


def _run(owner: str, cp: Any, problem: Any, solver: str, low: np.ndarray, high: np.ndarray):
    """Solve ``problem`` and return its value; solver failures become one clear error."""
    settings = CLARABEL_SETTINGS if solver == "CLARABEL" else {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem.solve(solver=solver, **settings)
    except cp.error.SolverError as exc:
        raise CookbookError(f"{owner}: solver {solver} failed: {exc}") from None
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise CookbookError(
            f"{owner}: no mixture meets the weight bounds (min_weight sum {low.sum():g}, "
            f"max_weight sum {high.sum():g}); the solver reports the constraints infeasible"
        )
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise CookbookError(f"{owner}: the objective is unbounded; check the scores")
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise CookbookError(f"{owner}: solver {solver} stopped with status {status!r}")
    return float(problem.value)
