"""The one exception type the CLI turns into a clear message instead of a traceback, and the
did-you-mean every "unknown name" message ends with."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class CookbookError(Exception):
    """A user-facing error: its message names the place (file, line, JSON path, component)."""


class PluginClashError(CookbookError):
    """Two plugins registered a component under the same name."""


def did_you_mean(name: object, known: Iterable[str], cutoff: float = 0.6) -> str:
    """``"; did you mean 'x'?"`` for the name in ``known`` closest to ``name``, else ``""``."""
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""
