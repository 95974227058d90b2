"""Contracts of the non-template components: scorers, tasks, mixers, trainers.

Plugins register objects with these attributes: any object with them works, and a class that
subclasses a Protocol inherits the defaults of its optional attributes. Every component has a
``name`` and ``params`` (a ``Params``, usually ``Params.of`` its main function); the engine
reads nothing that is not listed here, and ``setting`` reads an optional attribute with its
default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params

#: Component kinds, each registered through its ``register_<kind>`` hook.
KINDS = (
    "templates",
    "scorers",
    "mixers",
    "trainers",
    "tasks",
    "token_spaces",
    "steps",
    "writers",
)


@dataclass
class Scorer:
    """An alternative alignment scorer for ``template``: ``score(slots, output, **params)``;
    its parameters are those of ``score`` after ``slots`` and ``output``."""

    name: str
    template: str
    score: Callable[..., float]
    description: str = ""

    @property
    def params(self) -> Params:
        return Params.of(self.score, skip=2)


@dataclass
class TaskRecord:
    """One record of a real task, mapped into its template's input slots.

    ``answers`` holds the gold outputs; ``choices`` and ``gold`` are set for tasks scored by
    log-likelihood over options: choice i is the continuation scored after ``prompt``, or
    after ``contexts[i]`` when a record gives one context per choice (WinoGrande's "partial
    evaluation": the option fills the context, the shared rest of the sentence is scored).
    ``choice_labels`` name what each choice answers, as the template's output (default: the
    choice stripped). ``meta["format"]``, when every record sets it, names the prompt
    convention in the result (e.g. ``lm-eval/arc_easy``).
    """

    id: str
    slots: dict[str, Any]
    answers: list[str]
    prompt: str = ""
    choices: list[str] | None = None
    gold: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    contexts: list[str] | None = None
    choice_labels: list[str] | None = None

    def choice_context(self, index: int) -> str:
        """The text choice ``index`` is scored after."""
        return self.contexts[index] if self.contexts is not None else self.prompt

    def choice_label(self, index: int) -> str:
        """What choice ``index`` answers, as the template's output."""
        if self.choice_labels is not None:
            return self.choice_labels[index]
        return (self.choices or [])[index].strip()


@runtime_checkable
class Task(Protocol):
    """A reader of a real dataset with a template mapping and a metric.

    ``params`` are the reader's (``read`` receives them validated, defaults filled in).
    ``metric`` returns named values; ``main_metric`` names the one a pipeline reports and
    optimises (``higher_is_better`` says which way). ``mode`` is ``generate`` (greedy
    generation, scored by ``metric``) or ``choice`` (log-likelihood over each record's
    ``choices``; ``metric`` receives one list of log-likelihoods per record).
    """

    name: str
    #: The template whose rule describes the task (None: none does, and the task has no
    #: alignment column; the score step leaves it out).
    template: str | None
    params: Params
    main_metric: str
    higher_is_better: bool = True
    mode: str = "generate"
    #: Text at which generation stops (None: judged from the gold answers).
    stop: str | None = None
    #: Generation length (None: 1.5 times the longest gold answer plus 8 tokens).
    max_new_tokens: int | None = None
    #: A generate task that also reports ``reference_loglik``: the mean per-token
    #: log-likelihood of each record's first gold answer after its prompt (higher is better).
    reference_loglik: bool = False
    #: Wrap prompts in the chat template: True, False, "auto" or None (as the model was
    #: trained); or a function of the task's ``read`` parameters returning one of those
    #: (a prompt format that is plain text, another that is a chat). See ``chat_setting``.
    chat_template: bool | str | None | Callable[..., bool | str | None] = None
    description: str = ""

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
    params: Params
    description: str = ""
    #: ``objective_value(scores, weights, **params)``: the value the weights achieve, shown
    #: beside them; None when the mixer has no objective.
    objective_value: Callable[..., float] | None = None
    #: ``objective_name(**params)``: what that value is (e.g. ``maxmin``); None: the mixer's
    #: name.
    objective_name: Callable[..., str] | None = None

    def mix(self, scores: Any, **params: Any) -> dict[str, float]:
        """Weights over templates (non-negative, summing to one) for ``scores`` (a
        ``ScoreMatrix``; empty for a mixer that needs no scores)."""
        ...


@runtime_checkable
class Trainer(Protocol):
    """Fine-tunes a model on a file of samples and writes it to ``output_dir``.

    A trainer writes ``ModelInfo`` into ``output_dir`` so evaluation formats prompts as it
    trained. A trainer that can continue an interrupted run declares a ``resume`` parameter
    that accepts ``"auto"`` (continue when ``output_dir`` holds a checkpoint, else start).
    """

    name: str
    params: Params
    description: str = ""

    def train(self, data: str, model: str, output_dir: str, **params: Any) -> dict[str, Any]:
        """Train and return metrics (at least ``loss``, a list, and ``step``)."""
        ...


@runtime_checkable
class Writer(Protocol):
    """A language model that answers chat messages: a local model or an endpoint.

    ``write(messages, **params)`` takes ``[{"role": "system" | "user" | "assistant",
    "content": text}, ...]`` and returns the reply's text; ``params = Params.of(write)`` (its
    keyword-only parameters: the model, sampling, the endpoint...). Raise ``CookbookError``
    naming the model or URL when it cannot answer.
    """

    name: str
    params: Params
    description: str = ""

    def write(self, messages: list[dict[str, str]], **params: Any) -> str:
        """The reply to ``messages``."""
        ...


def best_choice(loglikelihoods: Sequence[float]) -> int:
    """The option a choice task picks: the index of the largest log-likelihood, the first on a
    tie."""
    return max(range(len(loglikelihoods)), key=lambda i: (loglikelihoods[i], -i))


_PROTOCOLS: dict[str, Any] = {
    "tasks": Task,
    "mixers": Mixer,
    "trainers": Trainer,
    "writers": Writer,
}


def setting(component: Any, name: str, kind: str) -> Any:
    """The component's attribute ``name``, or the default its kind's Protocol gives it."""
    protocol = _PROTOCOLS[kind]
    if hasattr(component, name):
        return getattr(component, name)
    if hasattr(protocol, name):
        return getattr(protocol, name)
    raise CookbookError(f"{kind.rstrip('s')} {component.name!r} has no attribute {name!r}")


def chat_setting(task: Any, params: Mapping[str, Any]) -> bool | str | None:
    """The task's chat-template setting for its validated ``read`` parameters ``params``."""
    asked = setting(task, "chat_template", "tasks")
    if callable(asked):
        asked = asked(**params)
    if asked is not None and asked not in (True, False, "auto"):
        raise CookbookError(
            f"task {task.name!r}: chat_template must be true, false, 'auto' or None, not {asked!r}"
        )
    return asked


@dataclass
class ModelInfo:
    """What a trainer records beside a trained model, for whoever loads it: the base model,
    whether prompts were wrapped in the chat template, the trainer, and whether the folder
    holds an adapter to apply on ``base`` (a peft folder) or a whole model of its own."""

    FILE: ClassVar[str] = "cookbook_model.json"

    base: str
    chat_template: bool | None = None
    trainer: str = ""
    adapter: bool = True

    def save(self, folder: str | Path) -> None:
        """Write ``cookbook_model.json`` into ``folder``."""
        path = Path(folder) / self.FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | Path) -> ModelInfo | None:
        """The info recorded in ``folder``, or None when there is none (or it is unreadable)."""
        path = Path(folder).expanduser() / cls.FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(data, Mapping) or not isinstance(data.get("base"), str):
            return None
        chat = data.get("chat_template")
        return cls(
            base=data["base"],
            chat_template=chat if isinstance(chat, bool) else None,
            trainer=str(data.get("trainer", "")),
            adapter=data.get("adapter", True) is not False,
        )
