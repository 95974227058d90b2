"""Step kinds: the pieces a pipeline is made of, and the typed artifacts they pass along.

A step kind is a function ``run(ctx, **params) -> {output: artifact}`` with declared inputs
(artifact types it reads from earlier steps) and outputs (artifact types it makes)::

    @step_kind(inputs={"data": Input("dataset")}, outputs={"data": "dataset"})
    def dedupe(ctx: StepContext, *, n: int = 3) -> dict[str, Artifact]:
        source = ctx.inputs["data"]
        ...
        return {"data": Dataset(file=ctx.folder / "samples.jsonl", samples=kept, counts=...)}

Its keyword parameters are its parameters (see ``Params``). The pipeline checks the graph
before anything runs, runs each step in its own folder, and caches it under a hash of its
parameters, its code, what it ``uses`` of the pipeline and its inputs' hashes.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params

#: What a step may read of the pipeline; the step's cache key includes exactly these.
USES = ("seed", "model", "token_space", "templates", "tasks", "engine")


@dataclass
class Artifact:
    """An output of a step. A subclass that sets its own ``TYPE`` defines a new artifact type
    (one that does not, such as a helper subclass, stays of its parent's type). A subclass
    of another artifact class may feed every input that takes its parent's type. ``Path``
    fields are files in the step's folder (stored relative to it, so a run folder can move);
    other fields must be JSON values."""

    TYPE: ClassVar[str] = "artifact"
    _types: ClassVar[dict[str, type[Artifact]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "TYPE" not in cls.__dict__:
            return
        known = Artifact._types.get(cls.TYPE)
        if known is not None and known.__qualname__ != cls.__qualname__:
            raise CookbookError(
                f"artifact type {cls.TYPE!r} is defined twice: by {known.__module__}."
                f"{known.__qualname__} and by {cls.__module__}.{cls.__qualname__}"
            )
        Artifact._types[cls.TYPE] = cls

    @staticmethod
    def feeds(output_type: str, input_type: str) -> bool:
        """Whether an artifact of ``output_type`` may feed an input that takes
        ``input_type``: the same type, or a subclass of its class."""
        if output_type == input_type:
            return True
        made, taken = Artifact._types.get(output_type), Artifact._types.get(input_type)
        return made is not None and taken is not None and issubclass(made, taken)

    def to_json(self, folder: Path) -> dict[str, Any]:
        """The artifact as JSON, paths relative to ``folder``."""
        out: dict[str, Any] = {"type": self.TYPE}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = (
                    value.relative_to(folder).as_posix()
                    if value.is_relative_to(folder)
                    else str(value)
                )
            out[f.name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], folder: Path) -> Artifact:
        """The artifact ``to_json`` wrote, its paths made absolute again."""
        kind = Artifact._types.get(str(data.get("type")))
        if kind is None:
            raise CookbookError(f"{folder}: unknown artifact type {data.get('type')!r}")
        values = {}
        for f in dataclasses.fields(kind):
            if f.name not in data:
                continue
            value = data[f.name]
            if value is not None and "Path" in str(f.type):
                value = folder / value
            values[f.name] = value
        return kind(**values)


@dataclass
class Dataset(Artifact):
    """Samples on disk (JSONL or Parquet), with how many came from each template."""

    TYPE: ClassVar[str] = "dataset"
    file: Path
    samples: int
    counts: dict[str, int] = field(default_factory=dict)
    format: str = "jsonl"


@dataclass
class Scores(Artifact):
    """A tasks x templates score matrix (``scores[task][template]``), e.g. alignment."""

    TYPE: ClassVar[str] = "scores"
    scores: dict[str, dict[str, float]]
    file: Path | None = None
    n: dict[str, int] = field(default_factory=dict)


@dataclass
class Mixture(Artifact):
    """Weights over templates, with the sample counts they give and the predicted scores."""

    TYPE: ClassVar[str] = "mixture"
    weights: dict[str, float]
    file: Path | None = None
    counts: dict[str, int] | None = None
    predicted: dict[str, float] = field(default_factory=dict)
    uniform_predicted: dict[str, float] = field(default_factory=dict)
    mixer: str = ""
    source: str = ""


@dataclass
class Model(Artifact):
    """A model to evaluate or train further: a base model, and an adapter folder on it."""

    TYPE: ClassVar[str] = "model"
    base: str
    adapter: Path | None = None
    chat_template: bool | None = None
    trainer: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class Results(Artifact):
    """Evaluation rows: for each model and task (or template), its main metric and the
    alignment of its outputs; ``generations`` is the folder of each model's outputs on each
    task, ``{model}-{task}.jsonl`` with one ``{"id", "output"}`` per record."""

    TYPE: ClassVar[str] = "results"
    rows: list[dict[str, Any]]
    plot: Path | None = None
    generations: Path | None = None


@dataclass(frozen=True)
class Input:
    """An input of a step kind: the artifact type it takes, one or ``many`` (a list of step
    names), and whether it may be left out."""

    type: str
    many: bool = False
    optional: bool = False
    description: str = ""


@dataclass(frozen=True)
class TemplateUse:
    """A template as the pipeline uses it: its name and resolved parameters."""

    name: str
    params: dict[str, Any]


@dataclass(frozen=True)
class TaskUse:
    """A task as the pipeline declares it: its data and how it is evaluated."""

    name: str
    type: str
    path: str
    split: str | None = None
    dev_path: str | None = None
    dev_split: str | None = None
    dev_skip: int = 0
    dev_limit: int | None = None
    eval_limit: int | None = None
    calibrate: bool = False
    chat_template: bool | str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def dev(self) -> tuple[str, str | None, int]:
        """(path, split, records to skip) of the development data: ``dev_path``,
        ``dev_split`` and ``dev_skip``, else the evaluation data itself."""
        return (
            self.dev_path or self.path,
            self.dev_split if self.dev_split is not None else self.split,
            self.dev_skip,
        )


@dataclass(frozen=True)
class PipelineContext:
    """What every step may read of its pipeline (cached by what the step ``uses``)."""

    name: str
    seed: int
    model: str | None
    token_space: str
    templates: tuple[TemplateUse, ...]
    tasks: tuple[TaskUse, ...]
    #: The pipeline file's folder (relative paths in the file are relative to it).
    folder: Path
    #: The run folder (``output_dir``), where the card links files from.
    run_folder: Path
    #: Where generation, scoring and model steps run: ``{"engine": "local"|"ray", "address",
    #: "shard_size", "score_shard_size", "model_shard_size", "actors"}``.
    execution: dict[str, Any] = field(default_factory=dict)

    def task(self, name: str) -> TaskUse:
        """The task called ``name``."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise CookbookError(f"{name!r} is not a task of this pipeline")


@dataclass
class StepContext:
    """What a step's ``run`` receives: its name, parameters (validated, defaults filled in),
    inputs (an artifact, a list for ``many``, None when an optional one is absent), the
    pipeline, and the folder it writes its outputs in."""

    name: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    pipeline: PipelineContext
    folder: Path
    #: The names of the steps each input came from, in the order of its artifacts.
    sources: dict[str, list[str]] = field(default_factory=dict)
    log: Callable[[str], None] = print


@dataclass
class StepProblem:
    """A problem a step kind's ``check`` found: a path under the step's parameters (or the
    pipeline's top level, with ``top``) and a message."""

    path: tuple[Any, ...]
    message: str
    top: bool = False


@dataclass
class StepKind:
    """A kind of pipeline step: ``run(ctx, **params) -> {output name: Artifact}``.

    ``component`` names a parameter that selects a component, ``(key, kind)``: that
    component's parameters are accepted beside the step's own and validated as its, and its
    version joins the cache key (parameters marked ``Param(cache=False)``, the step's or the
    component's, stay out of it). ``check(params, pipeline, inputs)``
    returns more problems (a ``StepProblem`` list) found before anything runs, with ``inputs``
    mapping each input to the names of the steps it reads. ``card(name, outputs, params,
    pipeline)`` returns a Markdown section for the run's dataset card. A ``harness`` step
    kind scores models on tasks its own ``tasks`` parameter names (an evaluation harness's
    tasks, not the pipeline's): ``cookbook eval --harness KIND --task NAME`` runs it on one
    model outside a pipeline, so it takes ``models`` (optional, many) and makes ``results``.
    """

    name: str
    run: Callable[..., Mapping[str, Artifact]]
    inputs: dict[str, Input] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    params: Params = field(default_factory=Params)
    uses: tuple[str, ...] = ()
    component: tuple[str, str] | None = None
    check: Callable[..., list[StepProblem]] | None = None
    card: Callable[..., str] | None = None
    description: str = ""
    harness: bool = False

    def __post_init__(self) -> None:
        unknown = [u for u in self.uses if u not in USES]
        if unknown:
            raise CookbookError(
                f"step kind {self.name!r}: uses {unknown[0]!r}, not one of {', '.join(USES)}"
            )
        if self.harness:
            models = self.inputs.get("models")
            if (
                models is None
                or not (models.many and models.optional)
                or self.outputs.get("results") != "results"
                or "tasks" not in self.params
            ):
                raise CookbookError(
                    f"step kind {self.name!r}: a harness takes models (optional, many), makes"
                    " results and has a tasks parameter"
                )


def step_kind(
    fn: Callable[..., Mapping[str, Artifact]] | None = None,
    *,
    inputs: Mapping[str, Input] | None = None,
    outputs: Mapping[str, str] | None = None,
    uses: tuple[str, ...] = (),
    component: tuple[str, str] | None = None,
    check: Callable[..., list[StepProblem]] | None = None,
    card: Callable[..., str] | None = None,
    name: str | None = None,
    description: str | None = None,
    harness: bool = False,
) -> Any:
    """Make a ``StepKind`` from ``run(ctx, *, **params)``: its keyword-only parameters are the
    step's parameters; ``harness`` marks an evaluation harness (see ``StepKind``)."""

    def wrap(run: Callable[..., Mapping[str, Artifact]]) -> StepKind:
        positional = list(inspect.signature(run).parameters.values())[1:]
        stray = [p.name for p in positional if p.kind is p.POSITIONAL_OR_KEYWORD]
        if stray:
            raise CookbookError(
                f"step kind {name or run.__name__!r}: parameter {stray[0]!r} comes before '*':"
                " a step kind's parameters are keyword-only, run(ctx, *, ...)"
            )
        doc = (run.__doc__ or "").strip()
        return StepKind(
            name=name or run.__name__,
            run=run,
            inputs=dict(inputs or {}),
            outputs=dict(outputs or {}),
            params=Params.of(run),
            uses=tuple(uses),
            component=component,
            check=check,
            card=card,
            description=description or doc.split("\n\n")[0],
            harness=harness,
        )

    return wrap(fn) if fn is not None else wrap


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table for a step's card; floats to three decimals, None as a dash."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value).replace("|", "\\|") if value is not None else "-"
