"""Decision thresholds for two-choice tasks: the shift, the fit on development scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from cookbook import CookbookError
from cookbook.engine.calibration import check_two_choices, fit_threshold, with_threshold
from cookbook_plugins.entity_matching.deepmatcher_task import deepmatcher

# margins of Yes over No: the matches rank above the non-matches, yet all are above zero
MATCHES = [[-0.5, -3.5], [-1.0, -3.5], [-1.0, -3.0]]
NON_MATCHES = [[-1.0, -2.5], [-2.0, -3.0], [-2.0, -2.5]]


def _f1_of(gold: list[bool]):
    def f1(scores: list[list[float]]) -> float:
        said = [yes >= no for yes, no in scores]
        true_pos = sum(s and g for s, g in zip(said, gold, strict=True))
        return 2 * true_pos / (sum(said) + sum(gold))

    return f1


def test_the_shift_takes_the_threshold_off_the_first_choice():
    assert with_threshold([[-1.0, -2.0], [-3.0, -1.0]], 0.5) == [[-1.5, -2.0], [-3.5, -1.0]]


def test_the_fitted_threshold_separates_well_ranked_records_with_a_biased_boundary():
    scores = MATCHES + NON_MATCHES
    f1 = _f1_of([True] * 3 + [False] * 3)
    assert f1(scores) == pytest.approx(2 * 3 / 9)  # every pair said Yes
    threshold = fit_threshold(scores, f1)
    assert threshold == pytest.approx(1.75)  # between the margins 1.5 and 2.0
    assert f1(with_threshold(scores, threshold)) == 1.0


def test_a_boundary_already_right_is_left_at_zero():
    scores = [[-1.0, -2.0], [-2.0, -1.0], [-1.0, -1.5], [-3.0, -1.0]]
    assert fit_threshold(scores, _f1_of([True, False, True, False])) == 0.0


def test_among_equally_good_thresholds_the_one_nearest_zero_wins():
    assert fit_threshold([[0.0, -2.0], [0.0, -4.0]], lambda scores: 1.0) == 1.0
    assert fit_threshold([[0.0, 1.0], [0.0, -4.0]], lambda scores: 1.0) == 0.0


def test_no_development_records_is_a_clear_error():
    with pytest.raises(CookbookError, match="at least one development record"):
        fit_threshold([], lambda scores: 0.0)


def test_records_with_other_than_two_choices_are_refused_by_name():
    check_two_choices("em", ["a", "b"], [["Yes", "No"], ["Yes", "No"]])
    with pytest.raises(CookbookError, match="two choices per record; record b has 3"):
        check_two_choices("em", ["a", "b"], [["Yes", "No"], ["x", "y", "z"]])


def test_deepmatcher_reads_yes_and_no_log_likelihoods():
    records = list(
        deepmatcher.read(str(Path(__file__).parent / "fixtures" / "deepmatcher"))
    )  # gold: Yes Yes No No
    outputs = [[-1.0, -2.0], [-1.0, -1.0], [-3.0, -1.0], [-1.0, -2.0]]  # a tie says Yes
    assert deepmatcher.metric(records, outputs) == pytest.approx(
        {"f1": 80.0, "precision": 100 * 2 / 3, "recall": 100.0}
    )
    shifted = with_threshold(outputs, 0.5)  # now only the first pair clears the margin
    assert deepmatcher.metric(records, shifted)["recall"] == 50.0
