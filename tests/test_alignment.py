"""The alignment statistic: per-record scores, best over gold answers, mean and 95% interval."""

from __future__ import annotations

import math

import pytest

from cookbook import CookbookError, Scorer, template
from cookbook.engine.alignment import alignment_scores, scoring_function, summarize
from cookbook.registry import get_registry


@template(prompt="Say: {word}\nAnswer:", rule=lambda slots: slots["word"].upper())
def shout(rng, tokens):
    return {"word": "x"}


def _fill(slots, output, k: int = 3):
    return 1.0 if output == slots["context"].split()[-k] else 0.0


def test_scores_use_the_templates_own_scorer():
    blank = get_registry().get("templates", "fill_in_the_blank")
    slots = [{"context": "u k b y k"}, {"context": "u k b y k"}]
    assert alignment_scores(blank, slots, ["b", "y"]) == [1.0, 0.0]


def test_a_list_of_gold_answers_scores_the_best_of_them():
    blank = get_registry().get("templates", "fill_in_the_blank")
    slots = [{"context": "u k b y k"}]
    assert alignment_scores(blank, slots, [["y", "b"]]) == [1.0]
    assert alignment_scores(blank, slots, [[]]) == [0.0]


def test_without_a_scorer_the_rule_output_is_matched_fuzzily():
    assert alignment_scores(shout, [{"word": "hi"}] * 2, ["HI", "bye"]) == [1.0, 0.0]


def test_params_are_validated_and_passed_to_the_scorer():
    qa = get_registry().get("templates", "document_qa")
    slots = [{"document": "aa bb cc dd ee ff gg", "question": "dd", "position": 3}]
    assert alignment_scores(qa, slots, ["aa"], {"k": 3}) == [1.0]
    assert alignment_scores(qa, slots, ["aa"], {"k": 1}) == [0.0]
    with pytest.raises(CookbookError, match="k: 'one' is not of type 'integer'"):
        alignment_scores(qa, slots, ["aa"], {"k": "one"})


def test_a_registered_scorer_can_be_named_or_given():
    blank = get_registry().get("templates", "fill_in_the_blank")
    slots = [{"context": "the storm broke the fence"}]
    assert alignment_scores(blank, slots, ["storm"]) == [0.0]
    assert alignment_scores(blank, slots, ["storm"], scorer="context_copy") == [1.0]
    third = Scorer(name="third", template="fill_in_the_blank", score=_fill)
    assert alignment_scores(blank, slots, ["broke"], scorer=third) == [1.0]


def test_a_scorer_for_another_template_is_refused():
    qa = get_registry().get("templates", "document_qa")
    with pytest.raises(
        CookbookError, match="scores template 'fill_in_the_blank', not 'document_qa'"
    ):
        alignment_scores(qa, [], [], scorer="context_copy")
    with pytest.raises(CookbookError, match="unknown scorer 'nope'"):
        scoring_function(qa, scorer="nope")


def test_mismatched_lengths_and_failing_scorers_are_clear_errors():
    qa = get_registry().get("templates", "document_qa")
    with pytest.raises(CookbookError, match="2 records but 1 outputs"):
        alignment_scores(qa, [{}, {}], ["x"])
    with pytest.raises(CookbookError, match="record r-9 .*has no slot 'document'"):
        alignment_scores(qa, [{"passage": "x"}], ["x"], ids=["r-9"])


def test_summary_is_the_mean_with_a_normal_interval():
    scores = [1.0, 0.0, 1.0, 1.0, 0.5, 0.0, 1.0, 1.0]
    summary = summarize(scores)
    mean = sum(scores) / 8
    sd = math.sqrt(sum((s - mean) ** 2 for s in scores) / 7)
    assert summary.statistic == pytest.approx(mean)
    assert summary.n == 8
    assert summary.std_error == pytest.approx(sd / math.sqrt(8))
    assert summary.ci_low == pytest.approx(mean - 1.959964 * sd / math.sqrt(8))
    assert summary.ci_high == pytest.approx(min(1.0, mean + 1.959964 * sd / math.sqrt(8)))
    assert summarize(scores, confidence=0.9).ci_high < summary.ci_high
    assert summary.as_json()["confidence"] == 0.95


def test_summary_interval_stays_within_zero_and_one():
    assert summarize([1.0] * 5).as_json() | {"std_error": 0} == {
        "statistic": 1.0,
        "n": 5,
        "ci_low": 1.0,
        "ci_high": 1.0,
        "std_error": 0,
        "confidence": 0.95,
    }
    low = summarize([0.0, 0.0, 0.0, 1.0])
    assert low.ci_low == 0.0 and 0.25 < low.ci_high <= 1.0
    single = summarize([0.5])
    assert (single.ci_low, single.ci_high) == (0.5, 0.5)


def test_an_empty_summary_or_bad_confidence_is_an_error():
    with pytest.raises(CookbookError, match="no records"):
        summarize([])
    with pytest.raises(CookbookError, match="confidence"):
        summarize([1.0], confidence=95)
