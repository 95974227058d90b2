"""The multiple_choice template: the answer is the option overlapping the input the most."""

from __future__ import annotations

import pytest

from cookbook import CookbookError, SampleRandom
from cookbook.contract.tokens import TokenSpace, pseudowords
from cookbook_plugins.multiple_choice.template import (
    align,
    match_option,
    multiple_choice,
    overlaps,
    render_prompt,
)

SPACE = TokenSpace("test", pseudowords(2000, seed=5))


def test_the_answer_is_the_option_with_a_unique_largest_overlap():
    params = multiple_choice.resolve({"options": 5})
    for key in range(30):
        slots = multiple_choice.make_slots(SampleRandom(key), SPACE, params)
        assert len(slots["options"]) == 5
        scores = overlaps(slots["context"], slots["question"], slots["options"])
        assert scores.count(max(scores)) == 1
        assert slots["answer"] == slots["options"][scores.index(max(scores))]
        assert max(scores) >= 1


def test_prompt_has_context_question_lettered_options_and_answer():
    slots = {"context": "Some text.", "question": "Which?", "options": ["red", "blue"]}
    assert render_prompt(slots) == "Some text.\nQuestion: Which?\nA. red\nB. blue\nAnswer:"
    assert render_prompt({**slots, "context": ""}).startswith("Question: Which?\n")


def test_overlap_ignores_stop_words_case_and_plural_endings():
    assert overlaps(
        "The Rivers of Scotland", "which is longest?", ["river", "of the", "Longest"]
    ) == [
        1,
        0,
        1,
    ]


@pytest.mark.parametrize(
    "output, index",
    [
        ("blue whale", 1),
        (" blue whale ", 1),
        ("B", 1),
        ("(A)", 0),
        ("C.", 2),
        ("the blue whale", 1),
    ],
)
def test_outputs_name_an_option_by_text_letter_or_close_match(output, index):
    assert match_option(["red fox", "blue whale", "green frog"], output) == index


def test_an_output_naming_no_option_matches_none():
    assert match_option(["red fox", "blue whale"], "Z") is None
    assert match_option(["red fox", "blue whale"], "purple") is None


def test_scorer_credits_the_best_option_and_splits_ties():
    slots = {"context": "The river Tay flows to the sea.", "question": "Where does it flow?"}
    options = {"options": ["to the sea", "to the hills", "nowhere"]}
    assert align({**slots, **options}, "to the sea") == 1.0
    assert align({**slots, **options}, "B") == 0.0
    tied = {**slots, "options": ["yes", "no"]}
    assert align(tied, "yes") == align(tied, "no") == 0.5


def test_too_many_options_is_a_clear_error():
    with pytest.raises(CookbookError, match="options"):
        multiple_choice.resolve({"options": 30})
