"""The ``english`` token space: common English words, a real-word alternative to pseudowords.

The words are CMUdict's alphabetic 3-10 letter words that belong to a regular inflection
family (see ``RhymeDictionary.common_words``), read once per process on first use.
"""

from __future__ import annotations

from functools import lru_cache

from cookbook import TokenSpace
from cookbook_plugins.poetry.rhyme_dictionary import load_dictionary


@lru_cache(maxsize=1)
def english_words() -> list[str]:
    """About 20,000 common English words from the CMU Pronouncing Dictionary, sorted."""
    return load_dictionary().common_words


english = TokenSpace("english", english_words)
