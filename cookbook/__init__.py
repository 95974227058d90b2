"""Cookbook: instruction-tuning data from programmatic templates over random tokens."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from cookbook.contract.batches import TokenRuns
from cookbook.contract.components import Scorer, TaskRecord
from cookbook.contract.errors import CookbookError
from cookbook.contract.hooks import hookimpl
from cookbook.contract.seeding import BatchRandom, SampleRandom
from cookbook.contract.templates import Template, template
from cookbook.contract.tokens import TokenSpace

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
