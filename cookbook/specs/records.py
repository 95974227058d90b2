"""Records written ``attribute: value`` joined by ". ", and comparing them attribute by attribute.

The same serialisation as the entity-matching template and the DeepMatcher task (Narayan et
al., 2022): a missing value is written "nan" and left out of comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cookbook.contract.text import normalize_tokens, token_f1

MISSING = "nan"
_ATTRIBUTE = re.compile(r"(?:^|(?<=\. ))([A-Za-z_][\w ]{0,40}?): ")
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def serialize(names: Sequence[Any], values: Sequence[Any]) -> str:
    """``["name", "city"], ["x y", ""]`` -> ``"name: x y. city: nan"`` (a list value is joined
    by spaces)."""
    return ". ".join(f"{name}: {_value(value)}" for name, value in zip(names, values, strict=True))


def _value(value: Any) -> str:
    if isinstance(value, list):
        value = " ".join(map(str, value))
    text = " ".join(str(value).split()) if value is not None else ""
    return text or MISSING


def parse_record(text: str) -> list[tuple[str, str]]:
    """The (attribute, value) pairs of a serialised record; text before any attribute is kept
    as a value of attribute ''."""
    parts = _ATTRIBUTE.split(text)
    pairs = [("", _unseparated(parts[0]))] if parts[0].strip(". ") else []
    pairs += [(parts[i], _unseparated(parts[i + 1])) for i in range(1, len(parts) - 1, 2)]
    return pairs


def _unseparated(value: str) -> str:
    return value[:-2] if value.endswith(". ") else value


def _present(value: str) -> bool:
    return value.strip().lower() != MISSING


def value_tokens(text: str) -> list[str]:
    """Normalised tokens of a serialised record's present values."""
    return [
        token
        for _, value in parse_record(text)
        if _present(value)
        for token in normalize_tokens(value)
    ]


def record_overlap(a: str, b: str) -> float:
    """Token F1 between the values of two serialised records (0 when either has none)."""
    tokens_a, tokens_b = value_tokens(a), value_tokens(b)
    return token_f1(tokens_a, tokens_b) if tokens_a and tokens_b else 0.0


def coverage(of: Any, within: Any) -> float:
    """Share of the distinct normalised words of ``of`` that occur in ``within`` (a text or a
    list of words; 0 when ``of`` has none): 1.0 when a question only repeats its passage."""
    words = set(normalize_tokens(_text(of)))
    if not words:
        return 0.0
    return len(words & set(normalize_tokens(_text(within)))) / len(words)


def _text(value: Any) -> str:
    return " ".join(map(str, value)) if isinstance(value, list) else str(value)


def attribute_agreement(a: str, b: str) -> float:
    """Mean token F1 of the two records' values attribute by attribute, over the attributes
    both have present (0 when they share none)."""
    values_b = {name: value for name, value in parse_record(b) if _present(value)}
    scores = [
        token_f1(normalize_tokens(value), normalize_tokens(values_b[name]))
        for name, value in parse_record(a)
        if _present(value) and name in values_b
    ]
    return sum(scores) / len(scores) if scores else 0.0


def parse_yes_no(text: Any) -> str | None:
    """ "Yes" or "No": the first of those words in a text; None when there is neither."""
    found = _YES_NO.search(str(text))
    return found.group(1).capitalize() if found else None
