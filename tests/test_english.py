"""The ``english`` token space: common CMUdict words, registered by a plugin, loaded once."""

from __future__ import annotations

import re

from cookbook import SampleRandom
from cookbook.engine.token_spaces import resolve_token_space
from cookbook.registry import get_registry
from cookbook_plugins.poetry.english import english, english_words


def test_english_is_a_registered_token_space():
    assert resolve_token_space("english", get_registry()) is english


def test_words_are_alphabetic_3_to_10_letters_and_common():
    words = english.words
    assert len(words) > 10_000
    assert all(re.fullmatch(r"[a-z]{3,10}", w) for w in words)
    vocabulary = set(words)
    assert {"jump", "jumped", "house", "table", "bright"} <= vocabulary
    # CMUdict lists many surnames and places; without an inflection family they are left out.
    assert not {"deguzman", "aalborg", "natividad"} & vocabulary


def test_words_load_once():
    english_words.cache_clear()
    first = english_words()
    assert english_words() is first
    assert english_words.cache_info().misses == 1


def test_draws_are_deterministic():
    assert english.draw(SampleRandom(7), 5) == english.draw(SampleRandom(7), 5)
    assert set(english.draw(SampleRandom(7), 50)) <= set(english.words)
