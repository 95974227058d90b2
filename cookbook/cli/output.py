"""Printing for commands: user text (file names, names, values, messages) is never read as
Rich markup nor highlighted, and a very long line is cut."""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from cookbook.pipeline.yamlfile import cut

#: Control characters (but tab and newline): shown escaped, never sent to the terminal.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with its control characters written as escapes (``\\x1b``), long lines cut."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", cut(text))


def console(stderr: bool = False) -> Console:
    """A console that highlights nothing (markup only where a command writes it) and never
    breaks a long line (a path) in two."""
    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def plain(value: Any) -> Text:
    """``value`` as text to show as it is: no markup, no highlighting, long lines cut."""
    return Text(visible(str(value)))


def safe(value: Any) -> str:
    """``value`` escaped to sit inside a markup string, long lines cut."""
    return escape(visible(str(value)))
