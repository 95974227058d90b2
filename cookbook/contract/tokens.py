"""Token spaces: the vocabularies templates draw random tokens from.

Two spaces live in the core: ``pseudowords`` (seeded pronounceable non-words, no model
needed) and ``tokenizer:MODEL`` (the word-like tokens of a Hugging Face tokenizer, made in
``cookbook.engine.token_spaces``). Plugins add more through the ``register_token_spaces``
hook.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.seeding import BatchRandom, SampleRandom

DEFAULT_TOKEN_SPACE = "pseudowords"
_WORD = re.compile(r"^[A-Za-z]{2,12}$")


class TokenSpace:
    """A named vocabulary with vectorised draws; subclasses may build ``words`` lazily."""

    def __init__(self, name: str, words: Sequence[str] | Callable[[], Sequence[str]]) -> None:
        self.name = name
        self._words = words

    @cached_property
    def words(self) -> list[str]:
        """The vocabulary: distinct, non-empty words free of white space."""
        words = self._words() if callable(self._words) else self._words
        words = list(dict.fromkeys(words))
        if len(words) < 2:
            raise CookbookError(f"token space {self.name!r} has fewer than two words")
        bad = next((w for w in words if not isinstance(w, str) or len(w.split()) != 1), None)
        if bad is not None:
            raise CookbookError(
                f"token space {self.name!r}: word {bad!r} is empty or contains white space"
            )
        return words

    @cached_property
    def _array(self) -> Any:
        import numpy as np

        return np.array(self.words, dtype=object)

    @cached_property
    def escaped_rows(self) -> tuple[Any, Any]:
        """Each word JSON-escaped (ASCII) and followed by a space, as rows of a fixed
        power-of-two width (numpy ``V{width}`` items, zero after the space): (the rows, the
        escaped words' lengths plus one). Batch lines are made from these."""
        import json

        import numpy as np

        escaped = [json.dumps(w)[1:-1].encode() + b" " for w in self.words]
        sizes = np.fromiter(map(len, escaped), dtype=np.int64, count=len(escaped))
        width = 1 << int(sizes.max() - 1).bit_length()  # the longest word and its space fit
        starts = np.cumsum(sizes) - sizes  # where each row starts in their concatenation
        table = np.zeros((len(escaped), width), dtype=np.uint8)
        table[
            np.repeat(np.arange(len(escaped)), sizes),
            np.arange(sizes.sum()) - np.repeat(starts, sizes),
        ] = np.frombuffer(b"".join(escaped), dtype=np.uint8)
        return table.view(f"V{width}").ravel(), sizes

    def draw_batch(self, rng: BatchRandom, sizes: Any) -> tuple[Any, Any]:
        """``sizes[j]`` token ids for each sample j, as ``draw`` would pick them: (flat ids,
        offsets of length n + 1)."""
        return rng.integers(len(self.words), sizes)

    def draw(self, rng: SampleRandom, k: int) -> list[str]:
        """``k`` tokens drawn uniformly with replacement."""
        if k <= 0:
            return []
        return self._array[rng.integers(len(self.words), k)].tolist()

    def distinct(self, rng: SampleRandom, k: int) -> list[str]:
        """``k`` different tokens."""
        return rng.sample(self.words, k)

    def text(self, rng: SampleRandom, k: int) -> str:
        """``k`` random tokens joined by spaces."""
        return " ".join(self.draw(rng, k))

    def __repr__(self) -> str:
        return f"TokenSpace({self.name!r})"


_CONSONANTS = "bdfgklmnprstvz"
_VOWELS = "aeiou"


def pseudowords(size: int = 8192, seed: int = 0) -> list[str]:
    """``size`` distinct pronounceable non-words of 2-4 syllables, the same for a given seed."""
    rng = SampleRandom(seed ^ 0x5EED)
    words: dict[str, None] = {}
    while len(words) < size:
        syllables = rng.randint(2, 4)
        word = "".join(rng.choice(_CONSONANTS) + rng.choice(_VOWELS) for _ in range(syllables))
        if rng.random() < 0.3:
            word += rng.choice(_CONSONANTS)
        words[word] = None
    return list(words)
