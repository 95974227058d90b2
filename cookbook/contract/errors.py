"""The one exception type the CLI turns into a clear message instead of a traceback."""

from __future__ import annotations


class CookbookError(Exception):
    """A user-facing error: its message names the place (file, line, JSON path, component)."""


class PluginClashError(CookbookError):
    """Two plugins registered a component under the same name."""
