"""Running the command line in this process as the console script does, and what its output
must never show (issue #19)."""

from __future__ import annotations

import io
import re
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import Any
from unittest import mock

from cookbook.cli import main

#: What an error must never show: a traceback, or an exception class as its explanation.
CLASS_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception|Exit|Interrupt)\b:")


def assert_clean(output: str) -> None:
    assert "Traceback" not in output, output
    assert "COOKBOOK_DEBUG" not in output, output
    assert not CLASS_NAME.search(output), output


def cli(*args: str) -> tuple[int, str]:
    """Run ``cookbook ARGS`` in this process as the console script does: (exit code, output)."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    argv = mock.patch.object(sys, "argv", ["cookbook", *args])
    with argv, redirect_stdout(out), redirect_stderr(err):
        try:
            main()
        except SystemExit as exc:
            code = exc.code or 0
    return int(code), out.getvalue() + err.getvalue()
