"""Fuzzy token matching shared by alignment scorers and task metrics."""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_ARTICLES = frozenset({"a", "an", "the"})
_SUFFIXES = ("ing", "edly", "ed", "es", "s", "ly")


def stem(word: str) -> str:
    """A deliberately simple suffix stripper: enough to match 'rhymes' with 'rhyme'."""
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def normalize_tokens(
    text: str, *, articles: bool = True, stemming: bool = True, punctuation: bool = True
) -> list[str]:
    """Lower-case tokens of ``text`` with punctuation, articles and simple suffixes removed."""
    if articles and stemming and punctuation:
        return [t for word in text.split() for t in word_tokens(word)]
    return _normalize(text, articles, stemming, punctuation)


@lru_cache(maxsize=1 << 17)
def word_tokens(word: str) -> tuple[str, ...]:
    """``normalize_tokens`` of one white-space-free word, cached (words repeat a lot).

    Normalisation never crosses white space, so a text's tokens are its words' tokens in order.
    """
    return tuple(_normalize(word, True, True, True))


@lru_cache(maxsize=1 << 17)
def normalize_word(word: str) -> str:
    """The normalised tokens of one white-space-free word joined by spaces ('' for 'the')."""
    return " ".join(word_tokens(word))


def _normalize(text: str, articles: bool, stemming: bool, punctuation: bool) -> list[str]:
    text = text.lower()
    if punctuation:
        text = text.translate(_PUNCT)
    tokens = text.split()
    if articles:
        tokens = [t for t in tokens if t not in _ARTICLES]
    if stemming:
        tokens = [stem(t) for t in tokens]
    return tokens


def token_f1(predicted: Iterable[str], gold: Iterable[str]) -> float:
    """Bag-of-tokens F1 between two token sequences (1.0 when both are empty)."""
    pred, ref = Counter(predicted), Counter(gold)
    if not pred and not ref:
        return 1.0
    common = sum((pred & ref).values())
    if common == 0:
        return 0.0
    precision = common / sum(pred.values())
    recall = common / sum(ref.values())
    return 2 * precision * recall / (precision + recall)


def fuzzy_f1(predicted: str, gold: str) -> float:
    """Token F1 after normalisation: the default fuzzy match of two texts."""
    return token_f1(normalize_tokens(predicted), normalize_tokens(gold))


WORD_RE = re.compile(r"\w+")
