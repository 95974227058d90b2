"""Hook specifications: one ``register_*`` hook per kind of component.

Each hook receives a ``register`` callback; calling it records the component and the
plugin that supplied it, so clashes are handled in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("cookbook")
hookimpl = pluggy.HookimplMarker("cookbook")

Register = Callable[[Any], None]


@hookspec
def register_templates(register: Register) -> None:
    """Register templates: ``register(template)`` for each."""


@hookspec
def register_scorers(register: Register) -> None:
    """Register alignment scorers (a scorer names the template it scores)."""


@hookspec
def register_mixers(register: Register) -> None:
    """Register mixers, which turn a task x template score matrix into weights."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register trainers, which fine-tune a model on generated samples."""


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks: readers of real datasets with a metric and a template mapping."""


@hookspec
def register_token_spaces(register: Register) -> None:
    """Register token spaces, the vocabularies templates draw random tokens from."""


@hookspec
def register_steps(register: Register) -> None:
    """Register pipeline step kinds (``cookbook.StepKind``, usually made with
    ``@step_kind``)."""


@hookspec
def register_writers(register: Register) -> None:
    """Register writers: language models (local or behind an endpoint) that answer chat
    messages, which ``cookbook write-template`` asks for a template."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add commands to the ``cookbook`` CLI (a ``typer.Typer`` app)."""
