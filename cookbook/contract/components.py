"""Contracts of the non-template components: scorers, tasks, mixers, trainers.

Plugins register objects with these attributes; the dataclasses are conveniences, any
object with the same attributes works. Every component has a ``name`` and a JSON Schema
``params_schema`` for its parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

KINDS = ("templates", "scorers", "mixers", "trainers", "tasks", "token_spaces")


@dataclass
class Scorer:
    """An alternative alignment scorer for ``template``: ``score(slots, output, **params)``."""

    name: str
    template: str
    score: Callable[..., float]
    params_schema: dict[str, Any] = field(default_factory=dict)
    description: str = ""


@dataclass
class TaskRecord:
    """One record of a real task, mapped into its template's input slots.

    ``answers`` holds the gold outputs; ``choices`` and ``gold`` are set for tasks scored by
    log-likelihood over options.
    """

    id: str
    slots: dict[str, Any]
    answers: list[str]
    prompt: str = ""
    choices: list[str] | None = None
    gold: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """A reader of a real dataset with a template mapping and a metric."""

    name: str
    template: str
    params_schema: dict[str, Any]

    def read(self, path: str, split: str | None = None, **params: Any) -> Iterator[TaskRecord]:
        """Records of the dataset at ``path`` (a file or folder the user gives)."""
        ...

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """The task's metrics for model outputs aligned with ``records``."""
        ...


@runtime_checkable
class Mixer(Protocol):
    """Turns a tasks x templates score matrix into weights over templates."""

    name: str
    params_schema: dict[str, Any]

    def mix(self, scores: Mapping[str, Mapping[str, float]], **params: Any) -> dict[str, float]:
        """Weights over templates (non-negative, summing to one) for ``scores[task][template]``."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """Fine-tunes a model on a JSONL file of samples and writes it to ``output_dir``."""

    name: str
    params_schema: dict[str, Any]

    def train(self, data: str, model: str, output_dir: str, **params: Any) -> dict[str, Any]:
        """Train and return metrics (at least ``loss`` and ``tokens_per_second``)."""
        ...
