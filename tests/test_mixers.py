"""The built-in mixers on small matrices solved by hand: max-min, mean, regularization, bounds;
and the objectives the ``cvxpy`` mixer optimises."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cookbook import CookbookError, get_registry
from cookbook.engine import ScoreMatrix, learn_mixture
from cookbook_plugins.mixers.objectives import OBJECTIVES, REGULARIZATIONS, objective_value

EXACT = 1e-6


def mixer(name: str = "cvxpy"):
    return get_registry().get("mixers", name)


def approx(weights: dict[str, float]):
    return pytest.approx(weights, abs=EXACT)


def test_builtin_mixers_are_registered_by_their_plugin():
    registry = get_registry()
    assert {"cvxpy", "uniform", "fixed"} <= set(registry.names("mixers"))
    assert registry.plugin_of("mixers", "cvxpy").name == "mixers"
    schema = mixer().params.schema["properties"]
    assert schema["objective"]["enum"] == list(OBJECTIVES)
    assert schema["regularization"]["enum"][:-1] == list(REGULARIZATIONS)
    assert schema["regularization"]["default"] is None
    # Optional parameters without a default stay out of the resolved mixer parameters.
    defaults = {"objective": "mean", "regularization": None, "strength": None}
    assert mixer().params.defaults == defaults
    assert mixer("uniform").params.schema["properties"] == {}
    assert mixer("fixed").params.schema["required"] == ["weights"]


def test_objective_value_of_mean_maxmin_and_regularizers():
    scores = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.0, "b": 1.0}}
    w = {"a": 0.75, "b": 0.25}
    assert objective_value(w, scores, "mean") == pytest.approx(0.5)
    assert objective_value(w, scores, "mean", task_weights={"t1": 3}) == pytest.approx(0.625)
    assert objective_value(w, scores, "maxmin") == pytest.approx(0.25)
    entropy = -(0.75 * np.log(0.75) + 0.25 * np.log(0.25))
    assert objective_value(w, scores, "mean", None, "entropy", 2.0) == pytest.approx(
        0.5 + 2 * entropy
    )
    assert objective_value(w, scores, "maxmin", None, "l2", 1.0) == pytest.approx(0.25 - 0.625)
    with pytest.raises(CookbookError, match="task_weights: task 't3'"):
        objective_value(w, scores, "mean", task_weights={"t3": 1})


def test_maxmin_balances_two_tasks_at_the_hand_solved_point():
    # w_a * 1 = w_b * 2 and w_a + w_b = 1  =>  w = (2/3, 1/3), worst task 2/3.
    scores = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.0, "b": 2.0}}
    weights = mixer().mix(scores, objective="maxmin")
    assert weights == approx({"a": 2 / 3, "b": 1 / 3})
    assert objective_value(weights, scores, "maxmin") == pytest.approx(2 / 3, abs=EXACT)


def test_maxmin_prefers_the_least_concentrated_optimal_mixture():
    # Every (a, a, 1 - 2a) reaches the optimum 0.5; the minimum sum of squares is a = 1/3.
    scores = {"t1": {"a": 1.0, "b": 0.0, "c": 0.5}, "t2": {"a": 0.0, "b": 1.0, "c": 0.5}}
    assert mixer().mix(scores, objective="maxmin") == approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    # Identical templates a and b share their part equally: with s = w_a + w_b the tasks score
    # s and 0.9 - 0.4 s, equal at s = 9/14.
    tied = {"t1": {"a": 1.0, "b": 1.0, "c": 0.0}, "t2": {"a": 0.5, "b": 0.5, "c": 0.9}}
    assert mixer().mix(tied, objective="maxmin") == approx({"a": 9 / 28, "b": 9 / 28, "c": 5 / 14})


def test_mean_puts_all_weight_on_the_best_column_and_splits_ties_evenly():
    scores = {"t1": {"a": 1.0, "b": 0.0, "c": 0.2}, "t2": {"a": 0.0, "b": 2.0, "c": 0.2}}
    assert mixer().mix(scores) == approx({"a": 0.0, "b": 1.0, "c": 0.0})
    even = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.0, "b": 1.0}}
    assert mixer().mix(even, objective="mean") == approx({"a": 0.5, "b": 0.5})


def test_task_weights_change_the_mean_objective():
    scores = {"t1": {"a": 1.0, "b": 0.0}, "t2": {"a": 0.0, "b": 1.0}}
    assert mixer().mix(scores, task_weights={"t1": 3}) == approx({"a": 1.0, "b": 0.0})
    assert mixer().mix(scores, task_weights={"t1": 0}) == approx({"a": 0.0, "b": 1.0})


def test_entropy_regularization_gives_the_softmax_of_scores_over_strength():
    # max c.w + s * H(w) on the simplex has the closed form w_j ~ exp(c_j / s). The objective
    # is flat near its optimum, so the exponential-cone solve is accurate to about 1e-5.
    scores = {"t": {"a": 1.0, "b": 0.0}}
    for strength in (1.0, 0.5):
        weights = mixer().mix(scores, regularization="entropy", strength=strength)
        expected = 1 / (1 + math.exp(-1 / strength))
        assert weights == pytest.approx({"a": expected, "b": 1 - expected}, abs=1e-5)


def test_l2_regularization_spreads_weight_by_the_hand_solved_amount():
    # max w_a - s (w_a^2 + w_b^2): w_a - w_b = 1 / (2 s), clipped to the simplex.
    scores = {"t": {"a": 1.0, "b": 0.0}}
    assert mixer().mix(scores, regularization="l2", strength=1.0) == approx({"a": 0.75, "b": 0.25})
    assert mixer().mix(scores, regularization="l2", strength=0.25) == approx({"a": 1.0, "b": 0.0})


def test_regularization_needs_a_strength():
    with pytest.raises(CookbookError, match="regularization 'l2' needs a strength > 0"):
        mixer().mix({"t": {"a": 1.0, "b": 0.0}}, regularization="l2")


def test_bounds_are_active_at_the_optimum():
    scores = {"t": {"a": 1.0, "b": 0.0, "c": 0.5}}
    assert mixer().mix(scores, max_weight=0.6) == approx({"a": 0.6, "b": 0.0, "c": 0.4})
    assert mixer().mix(scores, min_weight={"b": 0.2}) == approx({"a": 0.8, "b": 0.2, "c": 0.0})
    capped = mixer().mix(scores, max_weight={"*": 0.6, "a": 0.3})
    assert capped == approx({"a": 0.3, "b": 0.1, "c": 0.6})


@pytest.mark.parametrize(
    ("bounds", "message"),
    [
        ({"min_weight": 0.4}, "min_weight: the minimum weights sum to 1.2 > 1"),
        ({"max_weight": 0.3}, "max_weight: the maximum weights sum to 0.9 < 1"),
        (
            {"min_weight": {"a": 0.5}, "max_weight": {"a": 0.4}},
            "template 'a' has min_weight 0.5 above its max_weight 0.4",
        ),
        ({"max_weight": {"documentqa": 0.5}}, "max_weight.documentqa: .*did you mean"),
        ({"max_weight": 1.5}, "mixer 'cvxpy': max_weight: 1.5 is greater than the maximum of 1"),
        ({"objective": "median"}, "mixer 'cvxpy': objective: 'median' is not one of"),
    ],
)
def test_infeasible_or_invalid_bounds_name_the_constraint(bounds, message):
    scores = {"t": {"a": 1.0, "b": 0.0, "document_qa": 0.5}}
    with pytest.raises(CookbookError, match=message):
        learn_mixture(scores, "cvxpy", bounds, source="file")  # validated at the engine's edge


def test_solver_infeasibility_becomes_a_clear_error(monkeypatch):
    from cookbook_plugins.mixers import convex

    monkeypatch.setattr(convex, "_check_feasible", lambda *args: None)
    with pytest.raises(CookbookError, match="no mixture meets the weight bounds"):
        mixer().mix({"t": {"a": 1.0, "b": 0.0}}, max_weight=0.2)


def test_weights_are_deterministic_and_independent_of_task_order():
    rng = np.random.default_rng(7)
    values = rng.uniform(0, 1, size=(12, 30))
    tasks = tuple(f"t{i}" for i in range(12))
    templates = tuple(f"x{j}" for j in range(30))
    forward = ScoreMatrix(tasks, templates, values)
    backward = ScoreMatrix(tasks[::-1], templates, values[::-1])
    for objective in OBJECTIVES:
        first = mixer().mix(forward, objective=objective)
        assert mixer().mix(forward, objective=objective) == first
        assert mixer().mix(backward, objective=objective) == approx(first)
        assert all(v >= 0 for v in first.values())
        assert sum(first.values()) == pytest.approx(1.0, abs=1e-9)


def test_maxmin_beats_every_single_template_and_the_uniform_mixture():
    rng = np.random.default_rng(3)
    matrix = ScoreMatrix(("t0", "t1", "t2", "t3"), ("a", "b", "c", "d", "e"), rng.random((4, 5)))
    best = objective_value(mixer().mix(matrix, objective="maxmin"), matrix, "maxmin")
    for candidate in [{t: 1.0} for t in matrix.templates] + [mixer("uniform").mix(matrix)]:
        assert best >= objective_value(candidate, matrix, "maxmin") - EXACT


def test_objective_value_method_reports_the_regularized_objective():
    scores = {"t": {"a": 1.0, "b": 0.0}}
    weights = {"a": 0.75, "b": 0.25}
    value = mixer().objective_value(scores, weights, regularization="l2", strength=1.0)
    assert value == pytest.approx(0.75 - (0.75**2 + 0.25**2))


def test_uniform_mixer_weighs_every_template_equally():
    scores = {"t": {"a": 1.0, "b": 0.0, "c": 0.3, "d": 0.0}}
    assert mixer("uniform").mix(scores) == {"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}


def test_fixed_mixer_normalises_the_given_weights():
    scores = {"t": {"a": 1.0, "b": 0.0, "c": 0.5}}
    assert mixer("fixed").mix(scores, weights={"a": 3, "c": 1}) == {"a": 0.75, "b": 0.0, "c": 0.25}
    assert mixer("fixed").mix({}, weights={"x": 1, "y": 1}) == {"x": 0.5, "y": 0.5}
    with pytest.raises(CookbookError, match="mixer 'fixed'.*'z' is not in the score matrix"):
        mixer("fixed").mix(scores, weights={"z": 1})
    with pytest.raises(CookbookError, match="at least one template needs a positive weight"):
        mixer("fixed").mix(scores, weights={"a": 0})
    with pytest.raises(CookbookError, match="mixer 'fixed': weights.a: -1 is less than"):
        learn_mixture(scores, "fixed", {"weights": {"a": -1}}, source="file")
    with pytest.raises(CookbookError, match="missing required parameter 'weights'"):
        learn_mixture(scores, "fixed", {}, source="file")
