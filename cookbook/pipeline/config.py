"""Pipeline files: safe loading, the assembled schema, and validation that reports every error.

Each error names its place as ``file:line: json.path: message``; unknown component names get
a did-you-mean. Components are named, never imported by path.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import param_errors, parse_value
from cookbook.pipeline.yamlfile import format_path, line_of, load_yaml
from cookbook.registry import Registry

MIX_KEYS = ("mixer", "scores", "file")
TRAIN_KEYS = ("trainer",)
DEFAULT_MODEL_TOKEN_SPACE = "tokenizer:{model}"


def core_schema() -> dict[str, Any]:
    """``schemas/pipeline.schema.json`` as shipped."""
    return json.loads(files("cookbook.schemas").joinpath("pipeline.schema.json").read_text())


def assembled_schema(registry: Registry) -> dict[str, Any]:
    """The core schema with every registered component's parameter schema wired in."""
    schema = core_schema()
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]

    def cases(kind: str, key: str, params_of: Any) -> list[dict[str, Any]]:
        out = []
        for name in registry.names(kind):
            try:
                component = registry.get(kind, name)
            except CookbookError:  # a clash: validated when the name is used
                continue
            ref = f"{kind}.{name}"
            defs[ref] = params_of(component)
            out.append(
                {
                    "if": {"properties": {key: {"const": name}}, "required": [key]},
                    "then": {"properties": {"params": {"$ref": f"#/$defs/{ref}"}}},
                }
            )
        return out

    props["templates"]["items"]["allOf"] = cases("templates", "name", lambda c: c.schema)
    props["tasks"]["items"]["allOf"] = cases("tasks", "type", _schema_of)
    for section, kind, reserved in (("mix", "mixers", MIX_KEYS), ("train", "trainers", TRAIN_KEYS)):
        branches = []
        for name in registry.names(kind):
            try:
                component = registry.get(kind, name)
            except CookbookError:
                continue
            params = copy.deepcopy(_schema_of(component))
            params.setdefault("properties", {})
            for key in reserved:
                params["properties"].setdefault(
                    key, core_schema()["properties"][section]["properties"].get(key, {})
                )
            defs[f"{kind}.{name}"] = params
            key = reserved[0]
            branches.append(
                {
                    "if": {"properties": {key: {"const": name}}, "required": [key]},
                    "then": {"$ref": f"#/$defs/{kind}.{name}"},
                }
            )
        props[section]["allOf"] = branches
    return schema


def _schema_of(component: Any) -> dict[str, Any]:
    schema = getattr(component, "params_schema", None) or {"type": "object"}
    return dict(schema)


@dataclass
class Pipeline:
    """A validated pipeline: the resolved config and where it came from."""

    path: Path
    config: dict[str, Any]

    @property
    def output_dir(self) -> Path:
        return Path(self.config["output_dir"])


def apply_overrides(data: Any, overrides: list[tuple[str, Any]]) -> Any:
    """Apply ``--set a.b.0.c=value`` overrides; a list index one past the end appends."""
    for key, value in overrides:
        parts = [int(p) if p.isdigit() else p for p in key.split(".")]
        target = data
        try:
            for part, nxt in zip(parts, parts[1:], strict=False):
                empty: Any = [] if isinstance(nxt, int) else {}
                if isinstance(target, list) and part == len(target):
                    target.append(empty)
                elif isinstance(target, dict) and part not in target:
                    target[part] = empty
                target = target[part]
            last = parts[-1]
            if isinstance(target, list) and last == len(target):
                target.append(value)
            else:
                target[last] = value
        except (IndexError, KeyError, TypeError):
            raise CookbookError(f"--set {key}: no such place in the pipeline") from None
    return data


def _normalise(data: dict[str, Any]) -> None:
    templates = data.get("templates")
    if isinstance(templates, list):
        data["templates"] = [{"name": t} if isinstance(t, str) else t for t in templates]


def load_pipeline(
    path: str | Path,
    overrides: list[tuple[str, Any]] | None = None,
    registry: Registry | None = None,
) -> Pipeline:
    """Load, override, validate and resolve a pipeline file; every error is reported at once."""
    from cookbook.registry import get_registry

    registry = registry or get_registry()
    path = Path(path).resolve()
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise CookbookError(f"{path}:1: a pipeline is a mapping of keys (name, templates, ...)")
    data = apply_overrides(data, overrides or [])
    _normalise(data)
    errors = validate(data, registry, path.parent)
    if errors:
        raise CookbookError(_report(path, lines, errors))
    return Pipeline(path, resolve(data, path.parent))


def _report(path: Path, lines: dict, errors: list[tuple[tuple, str]]) -> str:
    rows = []
    for where, message in errors:
        line = line_of(lines, where)
        place = f"{path}:{line}" if line else str(path)
        rows.append((line or 0, f"{place}: {format_path(where)}: {message}"))
    rows.sort(key=lambda r: r[0])
    count = f"{len(rows)} error{'s' if len(rows) > 1 else ''} in {path.name}"
    return count + "\n" + "\n".join(text for _, text in rows)


def validate(data: dict[str, Any], registry: Registry, base: Path) -> list[tuple[tuple, str]]:
    """Every error in ``data`` as (JSON path, message)."""
    errors: list[tuple[tuple, str]] = []
    schema = assembled_schema(registry)
    known_top = list(schema["properties"])
    for where, message in param_errors(schema, data):
        if "Additional properties" in message:
            import difflib

            target = data
            for part in where:
                target = target[part]
            allowed = known_top if not where else _allowed_keys(schema, where)
            for key in [k for k in target if k not in allowed]:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                errors.append(((*where, key), f"unknown key {key!r}{hint}"))
            continue
        errors.append((tuple(where), message))
    errors.extend(_component_errors(data, registry, base))
    return list(dict.fromkeys(errors))


def _allowed_keys(schema: dict[str, Any], where: list) -> list[str]:
    node = schema
    for part in where:
        node = node.get("items", {}) if isinstance(part, int) else node["properties"].get(part, {})
    return list(node.get("properties", {}))


def _component_errors(data: dict[str, Any], registry: Registry, base: Path) -> list:
    errors: list[tuple[tuple, str]] = []

    def check(kind: str, name: Any, where: tuple) -> bool:
        if not isinstance(name, str):
            return False
        try:
            registry.get(kind, name)
            return True
        except CookbookError as exc:
            errors.append((where, str(exc)))
            return False

    for i, entry in enumerate(data.get("templates") or []):
        if isinstance(entry, dict):
            check("templates", entry.get("name"), ("templates", i, "name"))
    task_names = []
    for i, task in enumerate(data.get("tasks") or []):
        if not isinstance(task, dict):
            continue
        task_names.append(task.get("name"))
        check("tasks", task.get("type"), ("tasks", i, "type"))
        for key in ("path", "dev_path"):
            if isinstance(task.get(key), str) and not (base / task[key]).exists():
                errors.append((("tasks", i, key), f"no such file or folder: {base / task[key]}"))
        apart = "dev_path" in task or "dev_split" in task or task.get("dev_skip", 0)
        if task.get("calibrate") and not apart:
            errors.append(
                (
                    ("tasks", i, "calibrate"),
                    "a threshold is fitted on development records apart from the evaluated"
                    " ones: set dev_split, dev_path or dev_skip",
                )
            )
    if len(set(task_names)) != len(task_names):
        errors.append((("tasks",), "task names must be unique"))
    mix = data.get("mix")
    if isinstance(mix, dict):
        check("mixers", mix.get("mixer"), ("mix", "mixer"))
        scores = mix.get("scores", "alignment")
        if scores == "file":
            if not isinstance(mix.get("file"), str):
                errors.append((("mix",), "scores: file needs a 'file' with the score CSV"))
            elif not (base / mix["file"]).exists():
                errors.append((("mix", "file"), f"no such file: {base / mix['file']}"))
        elif scores in ("alignment", "proxy") and not data.get("tasks"):
            errors.append((("mix", "scores"), f"scores: {scores} needs tasks with data"))
        if scores == "proxy" and not (data.get("model") and data.get("train")):
            errors.append((("mix", "scores"), "scores: proxy needs a model and a train section"))
    train = data.get("train")
    if isinstance(train, dict):
        check("trainers", train.get("trainer"), ("train", "trainer"))
        if not data.get("generate"):
            errors.append((("train",), "training needs a generate section (the data)"))
    evaluation = data.get("eval")
    if isinstance(evaluation, dict):
        for i, name in enumerate(evaluation.get("tasks") or []):
            if name not in task_names:
                errors.append(
                    (
                        ("eval", "tasks", i),
                        f"{name!r} is not a task of this pipeline"
                        + (f" (tasks: {', '.join(map(str, task_names))})" if task_names else ""),
                    )
                )
        if not data.get("model"):
            errors.append((("eval",), "evaluation needs a model"))
    return errors


def resolve(data: dict[str, Any], base: Path) -> dict[str, Any]:
    """Defaults filled in, relative paths made absolute against the pipeline's folder."""
    from cookbook.registry import get_registry

    registry = get_registry()
    config = copy.deepcopy(data)
    config.setdefault("seed", 0)
    config["output_dir"] = str(
        (base / config.get("output_dir", f"runs/{config['name']}")).resolve()
    )
    if "token_space" not in config:
        model = config.get("model")
        config["token_space"] = (
            DEFAULT_MODEL_TOKEN_SPACE.format(model=model) if model else "pseudowords"
        )
    for entry in config["templates"]:
        entry["params"] = registry.get("templates", entry["name"]).resolve(entry.get("params"))
    for task in config.get("tasks") or []:
        task["path"] = str((base / task["path"]).resolve())
        if "dev_path" in task:
            task["dev_path"] = str((base / task["dev_path"]).resolve())
        task.setdefault("params", {})
    if "mix" in config:
        config["mix"].setdefault("scores", "alignment")
        if "file" in config["mix"]:
            config["mix"]["file"] = str((base / config["mix"]["file"]).resolve())
    if "generate" in config:
        config["generate"].setdefault("format", "jsonl")
    if "score" in config or config.get("tasks"):
        config.setdefault("score", {})
        config["score"].setdefault("limit", 500)
    if "eval" in config:
        config["eval"].setdefault("template_samples", 50)
        config["eval"].setdefault("batch_size", 8)
        config["eval"].setdefault("base", True)
    return config


def parse_sets(items: list[str] | None) -> list[tuple[str, Any]]:
    """``--set key.path=value`` options."""
    out = []
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise CookbookError(f"--set {item!r}: expected KEY.PATH=VALUE")
        out.append((key.strip(), parse_value(value)))
    return out
