"""Cookbook: instruction-tuning data from programmatic templates over random tokens.

This module is the public API for plugin authors, with ``cookbook.engine`` (the machinery a
step kind or trainer may call): a plugin imports from these two and nothing else.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from cookbook.contract.batches import TokenRuns
from cookbook.contract.components import (
    KINDS,
    Mixer,
    ModelInfo,
    Scorer,
    Task,
    TaskRecord,
    Trainer,
    Writer,
    best_choice,
    chat_setting,
    setting,
)
from cookbook.contract.errors import CookbookError, PluginClashError, did_you_mean
from cookbook.contract.hooks import hookimpl
from cookbook.contract.params import (
    REQUIRED,
    UNSET,
    Param,
    Params,
    ParamSpec,
    parse_assignments,
    parse_value,
)
from cookbook.contract.seeding import BatchRandom, SampleRandom
from cookbook.contract.steps import (
    Artifact,
    Dataset,
    Input,
    Mixture,
    Model,
    PipelineContext,
    Results,
    Scores,
    StepContext,
    StepKind,
    StepProblem,
    TaskUse,
    TemplateUse,
    markdown_table,
    step_kind,
)
from cookbook.contract.task_files import (
    check_outputs,
    data_file,
    read_json,
    read_jsonl,
    require_field,
)
from cookbook.contract.templates import PromptFormat, Template, template
from cookbook.contract.text import (
    fuzzy_f1,
    normalize_tokens,
    normalize_word,
    stem,
    token_f1,
    word_tokens,
)
from cookbook.contract.tokens import TokenSpace
from cookbook.registry import get_registry
from cookbook.specs.records import parse_record, parse_yes_no, record_overlap
from cookbook.specs.records import serialize as serialize_record
from cookbook.specs.scorers import near_span
from cookbook.specs.steps import random_edits


def load_dataset(*args: Any, **kwargs: Any) -> Any:
    """Template samples as a Hugging Face dataset; see ``cookbook.pipeline.hf_datasets``."""
    from cookbook.pipeline.hf_datasets import load_dataset as load

    return load(*args, **kwargs)


def load_spec(source: Any) -> dict[str, Any]:
    """A validated template spec from a file path or a mapping; see ``cookbook.specs``."""
    from cookbook.specs import load_spec as load

    return load(source)


def spec_schema() -> dict[str, Any]:
    """The JSON Schema of template specs (``schemas/template_spec.schema.json``), a fresh copy."""
    import copy

    from cookbook.specs.loader import spec_schema as schema

    return copy.deepcopy(schema())


def template_from_spec(source: Any, *, name: str | None = None) -> Template:
    """The ``Template`` a template spec (file path or mapping) describes; see ``cookbook.specs``."""
    from cookbook.specs import template_from_spec as make

    return make(source, name=name)


try:
    __version__ = version("cookbook-llm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "load_dataset",
    "load_spec",
    "spec_schema",
    "template_from_spec",
    "KINDS",
    "REQUIRED",
    "UNSET",
    "Artifact",
    "BatchRandom",
    "CookbookError",
    "Dataset",
    "Input",
    "Mixer",
    "Mixture",
    "Model",
    "ModelInfo",
    "Param",
    "ParamSpec",
    "Params",
    "PipelineContext",
    "PluginClashError",
    "PromptFormat",
    "Results",
    "SampleRandom",
    "Scorer",
    "Scores",
    "StepContext",
    "StepKind",
    "StepProblem",
    "Task",
    "TaskRecord",
    "TaskUse",
    "Template",
    "TemplateUse",
    "TokenRuns",
    "TokenSpace",
    "Trainer",
    "Writer",
    "__version__",
    "best_choice",
    "chat_setting",
    "check_outputs",
    "data_file",
    "did_you_mean",
    "fuzzy_f1",
    "get_registry",
    "hookimpl",
    "markdown_table",
    "near_span",
    "normalize_tokens",
    "parse_record",
    "parse_yes_no",
    "record_overlap",
    "serialize_record",
    "normalize_word",
    "parse_assignments",
    "parse_value",
    "random_edits",
    "read_json",
    "read_jsonl",
    "require_field",
    "setting",
    "stem",
    "step_kind",
    "template",
    "token_f1",
    "word_tokens",
]
