"""Fuzzy token normalisation: per-word caching gives the same tokens as the whole text."""

from __future__ import annotations

import string

from cookbook.contract.text import fuzzy_f1, normalize_tokens, normalize_word, stem

TEXTS = [
    "The Cats, sat on a mat!",
    "don't-stop  THE\tcats'\nrunning",
    "ΑΣ ΒΣ. Σ İstanbul ﬁne",
    "a\u00a0b\u2003the\u200bc",
    "",
    "...",
]


def test_tokens_are_lower_case_without_punctuation_articles_or_suffixes():
    assert normalize_tokens("The Cats, sat on a mat!") == ["cat", "sat", "on", "mat"]
    assert normalize_tokens("Running quickly") == ["runn", "quick"]


def _whole_text(text: str) -> list[str]:
    """The normalisation applied to the text at once, as it was before per-word caching."""
    punct = str.maketrans({c: " " for c in string.punctuation})
    tokens = text.lower().translate(punct).split()
    return [stem(t) for t in tokens if t not in ("a", "an", "the")]


def test_cached_per_word_tokens_equal_the_whole_text_normalisation():
    for text in TEXTS:
        assert normalize_tokens(text) == _whole_text(text)
        assert normalize_tokens(text) == _whole_text(text)  # served from the cache


def test_options_turn_steps_off():
    assert normalize_tokens("The cats!", articles=False) == ["the", "cat"]
    assert normalize_tokens("The cats!", stemming=False) == ["cats"]
    assert normalize_tokens("The cats!", punctuation=False) == ["cats!"]


def test_normalize_word_joins_a_words_tokens():
    assert normalize_word("Don't") == "don t"
    assert normalize_word("the") == ""


def test_fuzzy_f1_matches_after_normalisation():
    assert fuzzy_f1("The cats", "cat") == 1.0
    assert fuzzy_f1("dogs", "cat") == 0.0
