"""Self-curation: the rating prompt, scores read from a model's replies, and which candidates
are kept."""

from __future__ import annotations

import re

import pytest

from cookbook import CookbookError
from cookbook_plugins.backtranslation.rating import (
    DEFAULT_RATING_PROMPT,
    Curation,
    check_rating_prompt,
    curate,
    parse_score,
    render_rating_prompt,
)

# --- the prompt --------------------------------------------------------------------------


def test_the_default_prompt_is_valid():
    check_rating_prompt(DEFAULT_RATING_PROMPT)


def test_the_default_prompt_has_the_five_point_rubric_and_asks_for_a_score_line():
    lines = DEFAULT_RATING_PROMPT.splitlines()
    for score in "12345":
        assert sum(line.startswith(f"{score}: ") for line in lines) == 1
    assert "AI Assistant" in DEFAULT_RATING_PROMPT
    assert "blog post" in DEFAULT_RATING_PROMPT
    assert "high-level methodology" in DEFAULT_RATING_PROMPT
    assert "reasoning" in lines[-1] and '"Score: <rating>"' in lines[-1]


def test_the_default_prompt_renders_a_candidate_with_braces():
    instruction = "Write {a} dict like {'k': 1} and a lone { brace"
    output = "Here: {{}} and } and {output} and {instruction}"
    text = render_rating_prompt(DEFAULT_RATING_PROMPT, instruction, output)
    assert f"Instruction:\n{instruction}\n\nAnswer:\n{output}\n" in text
    assert text.index(instruction) < text.index(output) < text.index("Score: <rating>")
    assert text.count("{output}") == 1  # the candidate's own text, not filled in again


def test_a_custom_prompt_with_literal_braces_renders():
    prompt = 'Rate {instruction} -> {output}. Reply as JSON: {{"score": N}}'
    assert render_rating_prompt(prompt, "Q", "A") == 'Rate Q -> A. Reply as JSON: {"score": N}'


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("Rate {instruction}.", "missing field {output}"),
        ("Rate {output}.", "missing field {instruction}"),
        ("Rate this.", "missing field {instruction} and {output}"),
        ("{instruction} {output} {foo}", "unknown field {foo}"),
        ("{instruction} {outptu}", "unknown field {outptu}"),
        ("{instruction} {} {output}", "unknown field {} (a field needs a name)"),
        ("{instruction} {0} {output}", "unknown field {0}"),
        ("{instruction.upper} {output}", "unknown field {instruction.upper}"),
        ("{instruction} {output", "unbalanced braces"),
        ("{instruction} } {output}", "unbalanced braces"),
        ('{instruction} {output} {"score": 1}', 'unknown field {"score"'),
        ("{instruction!r} {output}", "field {instruction} takes no conversion or format spec"),
        ("{instruction} {output:{foo}}", "field {output} takes no conversion or format spec"),
    ],
)
def test_a_bad_prompt_says_what_is_wrong(prompt, expected):
    with pytest.raises(CookbookError, match="^" + re.escape(f"rating prompt: {expected}")):
        check_rating_prompt(prompt)
    with pytest.raises(CookbookError, match="^rating prompt"):
        render_rating_prompt(prompt, "Q", "A")


def test_a_misspelt_field_suggests_the_nearest():
    with pytest.raises(CookbookError, match="did you mean 'output'\\?$"):
        check_rating_prompt("{instruction} {outptu}")


def test_a_prompt_that_is_not_a_string_is_an_error():
    with pytest.raises(CookbookError, match="rating prompt must be a string, not NoneType"):
        check_rating_prompt(None)


# --- scores in replies -------------------------------------------------------------------

REPLIES = [
    # labelled
    ("The answer is complete.\nScore: 4", 4),
    ("score:4", 4),
    ("SCORE : 2", 2),
    ("Score: 4/5", 4),
    ("Score: 3 out of 5", 3),
    ("**Score**: 5", 5),
    ("**Score:** 5", 5),
    ("Score: **1**", 1),
    ("Rating: 3", 3),
    ("Final score = 2.", 2),
    ("Score: [3]", 3),
    ("Score: 4.0", 4),
    ("Score: 5\n\nThe answer could still mention step 2 and 3 apples.", 5),
    # several scores: the last labelled one, labelled ones before fractions
    ("Score: 2\nOn reflection, Score: 5", 5),
    ("It deserves 4/5.\nScore: 2", 2),
    ("Score: 4\nIt is 5/5 for clarity.", 4),
    ("Score: 3 ... Score: 9", None),
    # fractions without a label
    ("I would rate this answer 4 out of 5", 4),
    ("4/5", 4),
    ("First 2/5, then better: 3 / 5.", 3),
    ("Clarity 4/5, overall 8/10", 4),
    # a bare number
    ("5", 5),
    ("  **3**. ", 3),
    # out of range or not a whole score
    ("Score: 7", None),
    ("Score: 0", None),
    ("Score: 45", None),
    ("Score: 4.5", None),
    ("Score: 8/10", None),
    ("Score: 3/10", None),
    ("9/5", None),
    ("0 out of 5", None),
    ("6", None),
    ("0", None),
    # no score
    ("", None),
    ("The answer is good.", None),
    ("Score: <rating>", None),
    ("Score: -1", None),
    ("Score: high", None),
    ("Follow step 2 and buy 3 apples.", None),
    ("It scored well on 3/5/2023.", None),
    ("1: It means the answer is incomplete.\n5: a perfect answer.", None),
    ("I give it a 4", None),
]


@pytest.mark.parametrize(("reply", "expected"), REPLIES)
def test_parse_score(reply, expected):
    assert parse_score(reply) == expected


def test_parse_score_returns_ints():
    assert all(type(parse_score(reply)) is int for reply, score in REPLIES if score is not None)


# --- curation ------------------------------------------------------------------------------

SCORES = [5, 4, None, 3, 5, 1, None, 4]


def test_curate_at_threshold_5_keeps_only_perfect_answers():
    assert curate(SCORES, 5) == Curation(kept=[0, 4], below=4, unscored=2)


def test_curate_at_threshold_4_keeps_4_and_5():
    assert curate(SCORES, 4) == Curation(kept=[0, 1, 4, 7], below=2, unscored=2)


def test_curate_at_threshold_1_keeps_every_scored_candidate():
    assert curate(SCORES, 1) == Curation(kept=[0, 1, 3, 4, 5, 7], below=0, unscored=2)


def test_curate_nothing():
    assert curate([], 5) == Curation(kept=[], below=0, unscored=0)


@pytest.mark.parametrize("threshold", [0, 6, -1, 4.5, True, "5", None])
def test_a_bad_threshold_is_an_error(threshold):
    with pytest.raises(CookbookError, match="rating threshold must be a whole number from 1 to 5"):
        curate(SCORES, threshold)


@pytest.mark.parametrize("score", [0, 6, 4.0, "5", True])
def test_a_score_out_of_the_scale_is_an_error(score):
    with pytest.raises(CookbookError, match="score 1 is .*; expected a whole number from 1 to 5"):
        curate([5, score], 4)
