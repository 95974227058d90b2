"""The entity_matching template: balanced Yes/No pairs with hard negatives, and its scorer."""

from __future__ import annotations

import pytest

from cookbook import CookbookError, SampleRandom
from cookbook.engine.token_spaces import builtin_token_space
from cookbook.registry import get_registry
from cookbook_plugins.entity_matching.template import (
    entity_matching,
    overlap,
    parse_record,
    parse_yes_no,
    serialize,
)

PSEUDO = builtin_token_space("pseudowords")


def _samples(count: int, **overrides):
    params = entity_matching.resolve(overrides)
    for seed in range(count):
        yield entity_matching.make_slots(SampleRandom(seed * 104729 + 5), PSEUDO, params), params


def test_entity_matching_is_registered_as_a_comparison_template():
    assert get_registry().get("templates", "entity_matching") is entity_matching
    assert entity_matching.family == "comparison"


def test_own_samples_score_one_and_wrong_answers_zero():
    for slots, params in _samples(400):
        assert entity_matching.align(slots, slots["answer"], params) == 1.0
        wrong = "No" if slots["answer"] == "Yes" else "Yes"
        assert entity_matching.align(slots, wrong, params) == 0.0


def test_classes_are_balanced_by_default_and_follow_positives():
    answers = [slots["answer"] for slots, _ in _samples(1000)]
    assert 450 <= answers.count("Yes") <= 550
    answers = [slots["answer"] for slots, _ in _samples(1000, positives=0.2)]
    assert 150 <= answers.count("Yes") <= 250


def test_hard_negatives_share_many_tokens_but_fall_short_of_the_threshold():
    for share, expect_hard in ((1.0, True), (0.0, False)):
        negatives = [
            overlap(s["entity_a"], s["entity_b"])
            for s, _ in _samples(300, hard_negatives=share)
            if s["answer"] == "No"
        ]
        hard = [o for o in negatives if 0.2 <= o < 0.5]
        assert (len(hard) > 0.8 * len(negatives)) is expect_hard
        assert all(o < 0.5 for o in negatives)


def test_threshold_parameter_moves_the_rule():
    slots = {"entity_a": "name: p q r s", "entity_b": "name: p q r x"}
    assert entity_matching.rule(slots, threshold=0.7) == "Yes"  # F1 0.75
    assert entity_matching.rule(slots, threshold=0.8) == "No"
    for slots, params in _samples(100, threshold=0.8):
        assert entity_matching.align(slots, slots["answer"], params) == 1.0
    with pytest.raises(CookbookError, match="threshold"):
        entity_matching.resolve({"threshold": 0})


def test_prompt_follows_the_usual_entity_matching_format():
    slots, params = next(_samples(1))
    prompt, completion = entity_matching.render(slots, params)
    assert prompt.startswith(f"Entity A is {slots['entity_a']}. Entity B is {slots['entity_b']}.")
    assert prompt.endswith("Are Entity A and Entity B the same? Yes or No?")
    assert completion in (" Yes", " No")


def test_records_serialise_as_attribute_value_pairs_and_parse_back():
    text = serialize({"name": "joe 's diner, inc.", "city": "", "phone": "212-555"})
    assert text == "name: joe 's diner, inc.. city: nan. phone: 212-555"
    assert parse_record(text) == [
        ("name", "joe 's diner, inc."),
        ("city", "nan"),
        ("phone", "212-555"),
    ]


def test_overlap_ignores_attribute_names_and_missing_values():
    a = serialize({"title": "deep learning", "venue": ""})
    b = serialize({"title": "deep learning", "venue": None})
    assert overlap(a, b) == 1.0
    assert overlap(serialize({"title": "x y"}), serialize({"title": "z w"})) == 0.0
    assert overlap(serialize({"title": ""}), serialize({"title": ""})) == 0.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [(" Yes", "Yes"), ("no.", "No"), ("The answer is YES, they match", "Yes"), ("Maybe", None)],
)
def test_yes_no_is_parsed_robustly(text, expected):
    assert parse_yes_no(text) == expected


def test_scorer_works_on_real_records():
    real = {
        "entity_a": serialize({"name": "golden dragon palace", "city": "san francisco"}),
        "entity_b": serialize({"name": "golden dragon palace restaurant", "city": "san francisco"}),
    }
    params = entity_matching.resolve()
    assert entity_matching.align(real, "Yes", params) == 1.0
    assert entity_matching.align(real, "No, they differ", params) == 0.0
    assert entity_matching.align(real, "unsure", params) == 0.0
