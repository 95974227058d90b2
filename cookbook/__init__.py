"""Cookbook: instruction-tuning data from programmatic templates over random tokens."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cookbook.batches import TokenRuns
from cookbook.components import Scorer, TaskRecord
from cookbook.errors import CookbookError
from cookbook.hookspecs import hookimpl
from cookbook.seeding import BatchRandom, SampleRandom
from cookbook.templates import Template, template
from cookbook.tokens import TokenSpace

try:
    __version__ = version("cookbook-llm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "BatchRandom",
    "CookbookError",
    "SampleRandom",
    "Scorer",
    "TaskRecord",
    "TokenRuns",
    "Template",
    "TokenSpace",
    "__version__",
    "hookimpl",
    "template",
]
