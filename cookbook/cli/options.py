"""Parsing ``--param key=value`` options shared by commands."""

from __future__ import annotations

from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import parse_value


def parse_params(items: list[str] | None, option: str = "--param") -> list[tuple[str, Any]]:
    """``["a.b=3"]`` -> ``[("a.b", 3)]``; a malformed item is an error naming it."""
    pairs = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CookbookError(f"{option} {item!r}: expected KEY=VALUE")
        pairs.append((key.strip(), parse_value(value)))
    return pairs
