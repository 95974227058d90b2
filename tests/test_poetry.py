"""The poetry template: rhyme schemes over random tokens, real CMUdict rhymes, its scorer."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import pytest

from cookbook import CookbookError, SampleRandom
from cookbook.contract.tokens import TokenSpace
from cookbook.engine.token_spaces import builtin_token_space
from cookbook.registry import get_registry
from cookbook_plugins.poetry.rhyme_dictionary import end_word, load_dictionary, rhyming_part
from cookbook_plugins.poetry.template import (
    SCHEMES,
    expand_scheme,
    follows_scheme,
    label,
    parse_scheme,
    poetry,
    scheme_agreement,
)

PSEUDO = builtin_token_space("pseudowords")
FIXTURE_DICT = str(Path(__file__).parent / "fixtures" / "rhymes.dict")


def _samples(count: int, **overrides):
    params = poetry.resolve(overrides)
    for seed in range(count):
        slots = poetry.make_slots(SampleRandom(seed * 7919 + 11), PSEUDO, params)
        yield slots, params


def test_poetry_is_registered_as_a_composition_template():
    assert get_registry().get("templates", "poetry") is poetry
    assert poetry.family == "composition"


def test_own_samples_score_one():
    for slots, params in _samples(300):
        prompt, completion = poetry.render(slots, params)
        assert poetry.align(slots, slots["answer"], params) == 1.0
        assert poetry.align({"scheme": slots["scheme"]}, completion, params) == 1.0
        assert f"rhyme scheme {slots['scheme']}" in prompt


def test_samples_rhyme_per_cmudict():
    cmu = load_dictionary()
    seen = set()
    for slots, _ in _samples(200):
        labels = parse_scheme(slots["scheme"])
        ends = [end_word(line) for line in slots["answer"].splitlines()]
        assert len(ends) == len(labels) == slots["lines"]
        parts = [{rhyming_part(p) for p in cmu.pronunciations[w]} for w in ends]
        for i, j in combinations(range(len(ends)), 2):
            if labels[i] == labels[j]:
                assert ends[i] != ends[j] and parts[i] & parts[j], (ends[i], ends[j])
            else:
                assert not parts[i] & parts[j], (ends[i], ends[j])
        seen.add(slots["scheme"])
    assert set(SCHEMES) <= seen  # "random" draws every listed scheme


def test_scheme_lines_and_line_length_parameters():
    for slots, _ in _samples(20, scheme="ABBA", lines=8, line_length=3):
        assert slots["scheme"] == "ABBACDDC"
        lines = slots["answer"].splitlines()
        assert len(lines) == 8 and all(len(line.split()) == 3 for line in lines)
    assert expand_scheme("AABB", 6) == list("AABBCC")
    assert expand_scheme("AABBA", 4) == list("AABB")


def test_schemes_beyond_26_groups_use_two_letter_labels():
    assert label(25) == "Z" and label(26) == "AA" and label(27) == "AB"
    slots, params = next(_samples(1, scheme="AB", lines=60, line_length=1))
    assert parse_scheme(slots["scheme"])[-2:] == ["BG", "BH"]
    assert poetry.align(slots, slots["answer"], params) == 1.0


def test_a_custom_rhyme_dictionary_supplies_the_end_words():
    words = {"cat", "hat", "mat", "dog", "log", "fog", "sun", "run", "tree", "free"}
    for slots, params in _samples(
        30, scheme="AABB", rhyme_dictionary=FIXTURE_DICT, end_words="all"
    ):
        assert set(slots["end_words"]) <= words
        assert poetry.align(slots, slots["answer"], params) == 1.0


def test_too_few_rhyme_groups_is_a_clear_error():
    params = poetry.resolve(
        {"scheme": "AAAA", "rhyme_dictionary": FIXTURE_DICT, "end_words": "all"}
    )
    with pytest.raises(CookbookError, match="too few rhyme groups of 4 words"):
        poetry.make_slots(SampleRandom(1), PSEUDO, params)


def test_parameters_are_validated():
    with pytest.raises(CookbookError, match="scheme"):
        poetry.resolve({"scheme": "abab"})
    with pytest.raises(CookbookError, match="end_words"):
        poetry.resolve({"end_words": "rare"})


def test_scorer_gives_the_share_of_agreeing_line_pairs():
    stanza = "The cat sat on the mat tonight,\nBeneath a moon of grey;\nThe stars so bright,\nDay."
    assert scheme_agreement("ABAB", stanza) == 1.0
    assert follows_scheme("ABAB", stanza)
    # As AABB: the pairs (1,2), (3,4), (1,3), (2,4) disagree; (1,4), (2,3) agree.
    assert scheme_agreement("AABB", stanza) == pytest.approx(2 / 6)
    # A missing line: only the 3 pairs among the first three lines can agree.
    assert scheme_agreement("ABAB", "\n".join(stanza.splitlines()[:3])) == pytest.approx(3 / 6)
    assert scheme_agreement("1 2 1 2", stanza) == 1.0
    assert scheme_agreement("ABAB", "") == 0.0


def test_scorer_works_on_real_stanzas_without_generator_slots():
    real = {"scheme": "AABB", "lines": 4}
    stanza = "I wandered by the river-side,\nWhere willows glide,\nCame rain,\nthe lane 4"
    assert poetry.align(real, stanza, poetry.resolve()) == 1.0


def test_samples_work_over_any_token_space():
    tiny = TokenSpace("tiny", ["alpha", "beta"])
    params = poetry.resolve({"scheme": "ABAB"})
    slots = poetry.make_slots(SampleRandom(3), tiny, params)
    assert all(set(line.split()[:-1]) <= {"alpha", "beta"} for line in slots["answer"].splitlines())
