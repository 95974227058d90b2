"""Pipeline files: safe loading, overrides, and validation that reports every error at once.

A pipeline names its model, seed, templates and tasks, and a list of steps (or the sectioned
shorthand, see ``shorthand``). Validation checks the file's shape, every component name (with
a did-you-mean), every parameter against its component's declaration, and the step graph:
unknown inputs, type mismatches and cycles. Each error names ``file:line: json.path``.
"""

from __future__ import annotations

import heapq
import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError, did_you_mean
from cookbook.contract.params import Params, validation_errors
from cookbook.contract.steps import (
    Artifact,
    Input,
    PipelineContext,
    StepKind,
    StepProblem,
    TaskUse,
    TemplateUse,
)
from cookbook.pipeline import shorthand
from cookbook.pipeline.yamlfile import (
    clip,
    cut,
    format_path,
    line_of,
    load_yaml,
    parse_assignments,
    short,
    tree_problem,
)
from cookbook.registry import Registry, strict_plugins

DEFAULT_MODEL_TOKEN_SPACE = "tokenizer:{model}"
#: Parameters whose schema has this ``format`` name a file or folder: relative to the pipeline
#: file's folder, checked to exist, and cached by content.
PATH_FORMAT = "path"
#: The longest name of a pipeline, step, template, task or other component (as the schema's
#: ``maxLength`` says): a longer one is an error, and messages show a long value cut.
NAME_MAX_LENGTH = 200
#: A report lists at most this many errors (the first by line), then says how many more.
MAX_REPORTED = 100

Problem = tuple[tuple[Any, ...], str]


def core_schema() -> dict[str, Any]:
    """``schemas/pipeline.schema.json`` as shipped."""
    return json.loads(files("cookbook.schemas").joinpath("pipeline.schema.json").read_text())


@dataclass
class StepSpec:
    """A step as the pipeline declares it, with its parameters resolved and its inputs bound
    to the steps (and outputs) they read."""

    name: str
    kind: str
    params: dict[str, Any]
    inputs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    where: tuple[Any, ...] = ()
    #: Whether its kind, parameters and inputs passed validation (its check runs only then).
    valid: bool = True


@dataclass
class Pipeline:
    """A validated pipeline: where it came from, what every step may read, and its steps in
    the order they run."""

    path: Path
    data: dict[str, Any]
    context: PipelineContext
    steps: list[StepSpec]
    output_dir: Path

    @property
    def name(self) -> str:
        return self.context.name

    def resolved(self) -> dict[str, Any]:
        """The pipeline as a graph with every default filled in and every path absolute: a
        file that loads to the same steps from anywhere (the run folder keeps it)."""
        context = self.context
        data: dict[str, Any] = {"name": context.name, "seed": context.seed}
        data["output_dir"] = str(self.output_dir)
        if context.model is not None:
            data["model"] = context.model
        data["token_space"] = context.token_space
        if context.execution:
            data["execution"] = context.execution
        if context.templates:
            data["templates"] = [{"name": t.name, "params": t.params} for t in context.templates]
        if context.tasks:
            data["tasks"] = [
                {k: v for k, v in asdict(t).items() if v is not None and v != {}}
                for t in context.tasks
            ]
        from cookbook.registry import get_registry

        steps = []
        for spec in self.steps:
            kind = get_registry().get("steps", spec.kind)
            inputs: dict[str, Any] = {}
            for key, refs in spec.inputs.items():
                names = [f"{step}.{output}" for step, output in refs]
                inputs[key] = names if kind.inputs[key].many else names[0]
            entry = {"name": spec.name, "kind": spec.kind, "inputs": inputs, "params": spec.params}
            steps.append({k: v for k, v in entry.items() if v != {}})
        data["steps"] = steps
        return data


def apply_overrides(data: Any, overrides: list[tuple[str, Any]]) -> Any:
    """Apply ``--set a.b.0.c=value`` overrides; a list index one past the end appends."""
    for key, value in overrides:
        # a number is a list index (a mapping's keys stay names: text)
        parts = [
            int(p) if p.isascii() and p.isdigit() and len(p) < 10 else p for p in key.split(".")
        ]
        target = data
        try:
            for part, nxt in zip(parts, parts[1:], strict=False):
                empty: Any = [] if isinstance(nxt, int) else {}
                if isinstance(target, dict):
                    part = str(part)
                if isinstance(target, list) and part == len(target):
                    target.append(empty)
                elif isinstance(target, dict) and part not in target:
                    target[part] = empty
                target = target[part]
            last = parts[-1]
            if isinstance(target, dict):
                last = str(last)
            if isinstance(target, list) and last == len(target):
                target.append(value)
            else:
                target[last] = value
        except (IndexError, KeyError, TypeError):
            raise CookbookError(f"--set {clip(key)}: no such place in the pipeline") from None
    if overrides:
        problem = tree_problem(data)
        if problem:
            raise CookbookError(f"--set: with the overrides, {problem}")
    return data


def parse_sets(items: list[str] | None) -> list[tuple[str, Any]]:
    """``--set key.path=value`` options (values under the limits of a pipeline file)."""
    return parse_assignments(items, "--set")


def load_pipeline(
    path: str | Path,
    overrides: list[tuple[str, Any]] | None = None,
    registry: Registry | None = None,
) -> Pipeline:
    """Load, override and validate a pipeline file; every error is reported at once."""
    from cookbook.registry import get_registry

    registry = registry or get_registry()
    path = Path(path).resolve()
    data, lines = load_yaml(path)
    if data is None:
        raise CookbookError(
            f"{path}:1: the file holds no YAML document: a pipeline is a mapping of keys"
            " (name, templates, ...)"
        )
    if not isinstance(data, dict):
        shown = "a list" if isinstance(data, list) else f"the value {clip(repr(data))}"
        raise CookbookError(
            f"{path}:1: a pipeline is a mapping of keys (name, templates, ...), not {shown}"
        )
    data = apply_overrides(data, overrides or [])
    templates = data.get("templates")
    if isinstance(templates, list):
        data["templates"] = [
            _spec_relative({"name": t} if isinstance(t, str) else t, path.parent) for t in templates
        ]
    checker = _Checker(data, registry, path.parent)
    pipeline = checker.pipeline(path)
    if checker.errors:
        raise CookbookError(_report(path, lines, checker.errors))
    return pipeline


def _spec_relative(entry: Any, base: Path) -> Any:
    """A template entry whose name is a spec file relative to the pipeline's folder, named by
    its absolute path (like every other path in a pipeline)."""
    name = entry.get("name") if isinstance(entry, dict) else None
    if not isinstance(name, str) or not name.endswith((".yaml", ".yml", ".json")):
        return entry
    if Path(name).is_absolute() or not (base / name).is_file():
        return entry
    return {**entry, "name": str((base / name).resolve())}


def _report(path: Path, lines: dict, errors: list[Problem]) -> str:
    rows = []
    for where, message in dict.fromkeys(errors):
        line = line_of(lines, where)
        place = f"{path}:{line}" if line else str(path)
        rows.append((line or 0, f"{place}: {format_path(where)}: {message}"))
    rows.sort(key=lambda r: r[0])
    count = f"{len(rows)} error{'s' if len(rows) > 1 else ''} in {path.name}"
    shown = [text for _, text in rows[:MAX_REPORTED]]
    if len(rows) > MAX_REPORTED:
        shown.append(f"... and {len(rows) - MAX_REPORTED:,} more errors")
    return cut(count + "\n" + "\n".join(shown))


def _unknown_key_errors(schema: dict[str, Any], data: Any) -> list[Problem]:
    """Schema errors of ``data``, an unknown key reported once with a did-you-mean."""
    problems: list[Problem] = []
    for where, message in validation_errors(schema, data):
        target = data
        for part in where:
            target = target[part]
        node = _schema_at(schema, where)
        if isinstance(target, str) and len(target) > node.get("maxLength", len(target)):
            problems.append((tuple(where), too_long(target, node["maxLength"])))
            continue
        if "Additional properties" not in message:
            problems.append((tuple(where), message))
            continue
        allowed = list(node.get("properties", {}))
        for key in [k for k in target if k not in allowed]:
            hint = did_you_mean(key, allowed) if len(key) <= NAME_MAX_LENGTH else ""
            problems.append(((*where, key), f"unknown key {short(key)}{hint}"))
    return problems


def _schema_at(schema: dict[str, Any], where: list[Any]) -> dict[str, Any]:
    """The part of ``schema`` that describes the value at ``where`` ({} when none does)."""
    node = schema
    for part in where:
        if isinstance(part, int):
            node = node.get("items", {})
        else:
            node = node.get("properties", {}).get(part, node.get("additionalProperties", {}))
        if not isinstance(node, dict):
            return {}
    return node


def too_long(name: str, limit: int = NAME_MAX_LENGTH) -> str:
    """The message for a name over ``limit`` characters."""
    return f"{short(name)} is too long: a name has at most {limit} characters"


class _Checker:
    """Builds a ``Pipeline`` from file data, collecting every problem on the way."""

    def __init__(self, data: dict[str, Any], registry: Registry, base: Path) -> None:
        self.data, self.registry, self.base = data, registry, base
        self.errors: list[Problem] = []
        self.context_valid = True

    def component(self, kind: str, name: Any, where: tuple[Any, ...]) -> Any:
        if not isinstance(name, str):
            return None  # the schema's error says what a name is
        if len(name) > NAME_MAX_LENGTH:
            self.errors.append((where, too_long(name)))
            return None
        try:
            return self.registry.get(kind, name)
        except CookbookError as exc:
            self.errors.append((where, str(exc)))
            return None

    def pipeline(self, path: Path) -> Pipeline:
        data = self.data
        self.errors += _unknown_key_errors(core_schema(), data)
        name = data.get("name") if isinstance(data.get("name"), str) else "pipeline"
        output_dir = data.get("output_dir")
        if not isinstance(output_dir, str) or self.bad_path(output_dir, ("output_dir",)):
            output_dir = f"runs/{name}"
        output = (self.base / output_dir).resolve()
        for problem in output_dir_problems(output, path):
            self.errors.append((("output_dir",), problem))
        context = self.context(output)
        # a step kind's check sees a complete context: not one with a template or task missing
        self.context_valid = not any(
            where and where[0] in ("templates", "tasks", "token_space") for where, _ in self.errors
        )
        steps = self.steps(context)
        return Pipeline(path, data, context, steps, output)

    def context(self, output: Path) -> PipelineContext:
        data = self.data
        templates = []
        listed: dict[str, int] = {}
        for i, entry in _entries(data.get("templates")):
            template = self.component("templates", entry.get("name"), ("templates", i, "name"))
            if template is None:
                continue
            first = listed.setdefault(template.name, i)
            if first != i:
                # its samples would share ids and counts; the card would report them apart
                self.errors.append(
                    (
                        ("templates", i, "name"),
                        f"template {template.name!r} is listed twice (also templates[{first}]):"
                        " list each template once, with the parameters it should have",
                    )
                )
                continue
            params = self.params(template.params, entry.get("params") or {}, ("templates", i))
            templates.append(TemplateUse(entry["name"], params))
        tasks = [self.task(i, task) for i, task in _entries(data.get("tasks"))]
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            self.errors.append((("tasks",), "task names must be unique"))
        model = data.get("model")
        token_space = data.get("token_space") or (
            DEFAULT_MODEL_TOKEN_SPACE.format(model=model) if model else "pseudowords"
        )
        model_error = None
        if isinstance(model, str):
            from cookbook.engine.models import model_problem

            model_error = model_problem(model)
            if model_error is not None:
                self.errors.append((("model",), model_error))
        if isinstance(token_space, str) and not (model_error and not data.get("token_space")):
            from cookbook.engine.token_spaces import token_space_problem

            problem = token_space_problem(token_space, self.registry)
            if problem is not None:
                self.errors.append((("token_space",), problem))
        seed = data.get("seed", 0)
        return PipelineContext(
            name=data["name"] if isinstance(data.get("name"), str) else "pipeline",
            seed=seed if isinstance(seed, int) else 0,
            model=model,
            token_space=token_space,
            templates=tuple(templates),
            tasks=tuple(tasks),
            folder=self.base,
            run_folder=output,
            execution=dict(data.get("execution") or {}),
        )

    def params(
        self,
        declared: Params,
        given: Any,
        where: tuple[Any, ...],
        key: str = "params",
        keep: Callable[[str], bool] | None = None,
    ) -> dict[str, Any]:
        """``given`` validated against ``declared``, defaults filled (for the names ``keep``
        accepts, when it is given) and paths made absolute; problems are recorded under
        ``where + (key,)``."""
        place = (*where, key) if key else where
        problems = (
            declared.errors({**declared.defaults, **given})
            if isinstance(given, dict)
            else [([], "parameters must be a mapping")]
        )
        for path, message in problems:
            self.errors.append(((*place, *path), message))
        if problems or not isinstance(given, dict):
            return {}
        values = {**declared.defaults, **given}
        if keep is not None:
            values = {k: v for k, v in values.items() if k in given or keep(k)}
        for spec in declared:
            if spec.schema.get("format") == PATH_FORMAT and isinstance(values.get(spec.name), str):
                if self.bad_path(values[spec.name], (*place, spec.name)):
                    continue
                target = (self.base / values[spec.name]).resolve()
                problem = data_path_problem(Path(os.path.abspath(self.base / values[spec.name])))
                if problem is not None:
                    self.errors.append(((*place, spec.name), problem))
                values[spec.name] = str(target)
        return values

    def bad_path(self, value: str, where: tuple[Any, ...]) -> bool:
        """Whether ``value`` cannot name a file at all (it holds a NUL character): recorded."""
        if "\0" not in value:
            return False
        self.errors.append((where, "a path cannot hold a NUL character (\\0)"))
        return True

    def task(self, i: int, entry: dict[str, Any]) -> TaskUse:
        where = ("tasks", i)
        component = self.component("tasks", entry.get("type"), (*where, "type"))
        params = entry.get("params") or {}
        if component is not None:
            # the reader's defaults apply when it reads; only the given values are kept
            params = self.params(
                Params.of_component(component), params, where, keep=lambda _: False
            )
        paths = {}
        for key in ("path", "dev_path"):
            if isinstance(entry.get(key), str) and not self.bad_path(entry[key], (*where, key)):
                target = (self.base / entry[key]).resolve()
                given = Path(os.path.abspath(self.base / entry[key]))  # as written, made absolute
                problem = data_path_problem(given, folder_limit=True)
                if problem is not None:
                    self.errors.append(((*where, key), problem))
                paths[key] = str(target)
        apart = "dev_path" in entry or "dev_split" in entry or entry.get("dev_skip", 0)
        if entry.get("calibrate") and not apart:
            self.errors.append(
                (
                    (*where, "calibrate"),
                    "a threshold is fitted on development records apart from the evaluated"
                    " ones: set dev_split, dev_path or dev_skip",
                )
            )
        return TaskUse(
            name=str(entry.get("name")),
            type=str(entry.get("type")),
            path=paths.get("path", ""),
            split=entry.get("split"),
            dev_path=paths.get("dev_path"),
            dev_split=entry.get("dev_split"),
            dev_skip=entry.get("dev_skip", 0),
            dev_limit=entry.get("dev_limit"),
            eval_limit=entry.get("eval_limit"),
            calibrate=bool(entry.get("calibrate", False)),
            chat_template=entry.get("chat_template"),
            params=dict(params),
        )

    def steps(self, context: PipelineContext) -> list[StepSpec]:
        data = self.data
        if shorthand.is_sectioned(data):
            entries, problems = shorthand.expand(data)
            self.errors += problems
        else:
            present = [s for s in shorthand.SECTIONS if s in data]
            for section in present:
                self.errors.append(
                    ((section,), "a pipeline with steps has no sections: make it a step")
                )
            entries = [{**entry, "where": ("steps", i)} for i, entry in _entries(data["steps"])]
        names = Counter(e["name"] for e in entries if isinstance(e.get("name"), str))
        for entry in entries:
            if not isinstance(entry.get("name"), str):
                continue  # the schema error says so
            if names[entry["name"]] > 1:
                self.errors.append(((*entry["where"], "name"), "step names must be unique"))
        specs = {}
        kinds: dict[str, StepKind] = {}
        for entry in entries:
            spec, kind = self.step(entry, context)
            if spec is not None and kind is not None and spec.name not in specs:
                specs[spec.name] = (spec, entry)
                kinds[spec.name] = kind
        for spec, entry in specs.values():
            self.bind_inputs(spec, entry, kinds, context)
        return self.order([spec for spec, _ in specs.values()])

    def step(
        self, entry: dict[str, Any], context: PipelineContext
    ) -> tuple[StepSpec | None, StepKind | None]:
        where = entry["where"]
        sectioned = len(where) == 1
        kind_where = where if sectioned else (*where, "kind")
        kind = self.component("steps", entry.get("kind"), kind_where)
        if kind is None or not isinstance(entry.get("name"), str):
            return None, None
        declared = kind.params
        given = entry.get("params") or {}
        params_where = where if sectioned else (*where, "params")
        if kind.component is not None and isinstance(given, dict):
            key, component_kind = kind.component
            chosen = given.get(key, declared.defaults.get(key))
            component = self.component(component_kind, chosen, (*params_where, key))
            if component is None:
                declared = Params([*declared], open=True)  # unknown component: check ours only
                given = {k: v for k, v in given.items() if k in kind.params}
            else:
                theirs = Params.of_component(component)
                declared = Params([*declared, *theirs], open=theirs.open)
        else:
            declared = Params([*declared], open=False)
        before = len(self.errors)
        # A component's defaults are its own to fill (a trainer's seed must stay unset for
        # the pipeline's seed to apply): only the step's own defaults are filled in here.
        params = self.params(declared, given, params_where, key="", keep=lambda k: k in kind.params)
        self.named_components(kind, params, params_where)
        added = entry.get("added", ())
        self.errors[before:] = [
            (path, message)
            for path, message in self.errors[before:]
            if not (len(path) > len(params_where) and path[len(params_where)] in added)
        ]
        spec = StepSpec(entry["name"], kind.name, params, where=where)
        spec.valid = len(self.errors) == before
        return spec, kind

    def named_components(
        self, kind: StepKind, params: dict[str, Any], where: tuple[Any, ...]
    ) -> None:
        """Check the parameters that name a component (``Param(component=...)``) and those that
        hold such a component's parameters (``Param(params_of=...)``)."""
        for spec in kind.params:
            value = params.get(spec.name)
            if spec.component is not None and isinstance(value, str):
                self.component(spec.component, value, (*where, spec.name))
            if spec.params_of is None or not isinstance(value, dict):
                continue
            owner = kind.params[spec.params_of]
            named = params.get(spec.params_of)
            if owner.component is None or not isinstance(named, str):
                continue
            try:
                component = self.registry.get(owner.component, named)
            except CookbookError:
                continue  # reported where it is named
            theirs = Params.of_component(component)
            for path, message in theirs.errors({**theirs.defaults, **value}):
                self.errors.append(((*where, spec.name, *path), message))

    def bind_inputs(
        self,
        spec: StepSpec,
        entry: dict[str, Any],
        kinds: dict[str, StepKind],
        context: PipelineContext,
    ) -> None:
        kind = kinds[spec.name]
        where = (*spec.where, "inputs")
        given = entry.get("inputs") or {}
        if not isinstance(given, dict):
            self.errors.append((where, "inputs map each input to a step (or a list of steps)"))
            return
        for key in given:
            if key not in kind.inputs:
                hint = did_you_mean(key, kind.inputs)
                known = f" (inputs of {kind.name!r}: {', '.join(kind.inputs) or 'none'})"
                self.errors.append(((*where, key), f"unknown input {key!r}{hint}{known}"))
        for key, declared in kind.inputs.items():
            refs = given.get(key)
            if refs is None:
                if not declared.optional:
                    self.errors.append(
                        (where, f"step {spec.name!r} needs input {key!r} (a {declared.type})")
                    )
                continue
            if isinstance(refs, str):
                refs = [refs]
            elif not isinstance(refs, list):
                continue  # the schema's error says what an input takes
            elif not declared.many:
                self.errors.append(((*where, key), f"input {key!r} takes one step, not a list"))
                continue
            bound = []
            for j, ref in enumerate(refs):
                place = (*where, key) if isinstance(given[key], str) else (*where, key, j)
                output = self.resolve_ref(ref, declared, kinds, spec.name, place)
                if output is not None:
                    bound.append(output)
            spec.inputs[key] = bound
        if kind.check is not None and spec.valid and self.context_valid:
            inputs = {k: [step for step, _ in v] for k, v in spec.inputs.items()}
            params_where = spec.where if len(spec.where) == 1 else (*spec.where, "params")
            try:
                problems = list(kind.check(spec.params, context, inputs))
            except Exception as exc:
                if strict_plugins():
                    raise
                plugin = self.registry.plugin_of("steps", kind.name)
                problems = [
                    StepProblem(
                        (),
                        f"the check of step kind {kind.name!r} (plugin {plugin.name}) failed:"
                        f" {type(exc).__name__}: {exc}",
                    )
                ]
            added = entry.get("added", ())
            for problem in problems:
                if not problem.top and problem.path and problem.path[0] in added:
                    continue  # a shorthand copy of another section's keys: reported there
                place = problem.path if problem.top else (*params_where, *problem.path)
                self.errors.append((place, problem.message))

    def resolve_ref(
        self,
        ref: Any,
        declared: Input,
        kinds: dict[str, StepKind],
        owner: str,
        place: tuple[Any, ...],
    ) -> tuple[str, str] | None:
        """(step, output) that ``ref`` (``step`` or ``step.output``) names, of the right type."""
        if not isinstance(ref, str):
            self.errors.append((place, f"an input names a step, not {ref!r}"))
            return None
        step, _, output = ref.partition(".")
        if step not in kinds:
            hint = did_you_mean(step, kinds)
            self.errors.append((place, f"no step named {step!r}{hint}"))
            return None
        if step == owner:
            self.errors.append((place, f"step {owner!r} cannot read its own output"))
            return None
        outputs = kinds[step].outputs
        if output:
            if output not in outputs:
                self.errors.append(
                    (place, f"step {step!r} has no output {output!r} ({', '.join(outputs)})")
                )
                return None
            candidates = [output]
        else:
            candidates = [o for o, t in outputs.items() if Artifact.feeds(t, declared.type)]
            if len(candidates) > 1:
                self.errors.append(
                    (place, f"step {step!r} has several {declared.type} outputs: name one")
                )
                return None
            if not candidates:
                made = ", ".join(f"{t} {o!r}" for o, t in outputs.items()) or "nothing"
                self.errors.append(
                    (place, f"step {step!r} makes no {declared.type} (it makes: {made})")
                )
                return None
        if not Artifact.feeds(outputs[candidates[0]], declared.type):
            self.errors.append(
                (
                    place,
                    f"{ref!r} is a {outputs[candidates[0]]}, not the {declared.type} this needs",
                )
            )
            return None
        return step, candidates[0]

    def order(self, specs: list[StepSpec]) -> list[StepSpec]:
        """The steps in an order where each runs after the steps it reads (Kahn's algorithm,
        keeping the file's order among independent steps); a cycle is an error."""
        by_name = {s.name: s for s in specs}
        place = {s.name: i for i, s in enumerate(specs)}
        needs = {
            s.name: {step for refs in s.inputs.values() for step, _ in refs if step in by_name}
            for s in specs
        }
        readers: dict[str, list[str]] = {s.name: [] for s in specs}
        for name, steps in needs.items():
            for step in steps:
                readers[step].append(name)
        waiting = {name: len(steps) for name, steps in needs.items()}
        ready = [place[name] for name, count in waiting.items() if count == 0]
        heapq.heapify(ready)  # the first ready step in the file's order runs next
        ordered: list[StepSpec] = []
        while ready:
            spec = specs[heapq.heappop(ready)]
            ordered.append(spec)
            for reader in readers[spec.name]:
                waiting[reader] -= 1
                if waiting[reader] == 0:
                    heapq.heappush(ready, place[reader])
        if len(ordered) < len(specs):
            done = {s.name for s in ordered}
            stuck = [s.name for s in specs if s.name not in done]
            shown = ", ".join(map(repr, stuck[:10]))
            if len(stuck) > 10:
                shown += f" and {len(stuck) - 10:,} more"
            for name in stuck:
                self.errors.append(
                    ((*by_name[name].where, "inputs"), f"the inputs of steps {shown} form a cycle")
                )
        return ordered


def data_path_problem(target: Path, folder_limit: bool = False) -> str | None:
    """What keeps ``target`` from being read as data (None when it can be): it must be a
    regular file or a folder, not a device, fifo or socket, nor anything in ``/proc`` or
    ``/sys``; with ``folder_limit``, a folder of at most ``DIGEST_MAX_FILES`` files (task
    data is hashed for the cache key)."""
    from cookbook.pipeline.cache import DIGEST_MAX_FILES, folder_files, virtual_path

    if not target.exists():
        return f"no such file or folder: {target}"
    if virtual_path(target):
        return f"{target} is in a virtual file system (/proc, /sys), not data: name a file"
    if target.is_dir():
        if folder_limit:
            try:
                folder_files(target, limit=DIGEST_MAX_FILES)
            except CookbookError as exc:
                return str(exc)
            except OSError as exc:
                return f"{target}: cannot read the folder: {exc.strerror or exc}"
        return None
    if not target.is_file():
        return f"{target} is not a regular file or a folder (a device, fifo or socket)"
    return None


#: What tells a folder that a run made: a folder holding none of these, but other files, is
#: the user's, and a run never writes into it.
RUN_FOLDER_MARKS = ("manifest.json", "steps", "logs/run.log")


def output_dir_problems(output: Path, pipeline_file: Path) -> list[str]:
    """Why ``output`` cannot be this pipeline's run folder: something in the way that is not a
    folder, a nearest existing folder that cannot be written, or a folder of the user's that
    the run would write into (pipeline.yaml, README.md, manifest.json, samples.jsonl, logs/,
    steps/ would overwrite files of the same names): one that holds the pipeline file itself,
    or that holds files but is not a run folder. A run folder may be run again, also from the
    resolved pipeline.yaml it keeps."""
    writes = "pipeline.yaml, README.md, manifest.json, samples.jsonl, logs/ and steps/"
    existing = output
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing != output:
        if not existing.is_dir():
            return [f"{output} cannot be made: {existing} is not a folder"]
        if not os.access(existing, os.W_OK | os.X_OK):
            return [f"{output} cannot be made: the folder {existing} is not writable"]
        return []
    if not output.is_dir():
        return [f"{output} is not a folder: the run folder must be a folder (or a new one)"]
    if not os.access(output, os.W_OK | os.X_OK):
        return [f"the folder {output} is not writable"]
    is_run = any((output / mark).exists() for mark in RUN_FOLDER_MARKS)
    own = pipeline_file == output / "pipeline.yaml" and is_run
    if output in pipeline_file.parents and not own:
        return [
            f"{output} holds this pipeline file; a run writes {writes} there and would"
            " overwrite the user's files: name another folder (by default runs/NAME)"
        ]
    if not is_run:
        try:
            entries = sorted(p.name for p in output.iterdir())
        except OSError as exc:
            return [f"cannot read the folder {output}: {exc.strerror or exc}"]
        if entries:
            shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
            return [
                f"{output} holds files ({shown}) and is not a Cookbook run folder (it has no"
                f" manifest.json, steps/ or logs/run.log); a run writes {writes} there: name"
                " an empty or new folder"
            ]
    return []


def _entries(value: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, entry) of the mappings in a list (anything else is a schema error)."""
    if not isinstance(value, list):
        return []
    return [(i, entry) for i, entry in enumerate(value) if isinstance(entry, dict)]


#: The sectioned eval's ``harness``: a step kind, or ``{kind, params}`` (see ``shorthand``).
HARNESS = {
    "description": "Another evaluation step beside eval, on the same models (e.g. lm_eval).",
    "anyOf": [
        {"type": "string"},
        {
            "type": "object",
            "required": ["kind"],
            "additionalProperties": False,
            "properties": {"kind": {"type": "string"}, "params": {"type": "object"}},
        },
    ],
}


def assembled_schema(registry: Registry) -> dict[str, Any]:
    """The core schema with every registered component's parameters and every step kind's
    parameters wired in (what ``cookbook schema`` prints)."""
    schema = core_schema()
    defs = schema.setdefault("$defs", {})
    props = schema["properties"]

    def components(kind: str) -> dict[str, Any]:
        out = {}
        for name in registry.names(kind):
            try:
                out[name] = registry.get(kind, name)
            except CookbookError:  # a clash: validated when the name is used
                continue
        return out

    def branches(key: str, kind: str, base: Params) -> list[dict[str, Any]]:
        out = []
        for name, component in components(kind).items():
            ref = f"{kind}.{name}"
            merged = Params([*base, *Params.of_component(component)])
            defs[ref] = merged.schema
            out.append(
                {
                    "if": {"properties": {key: {"const": name}}, "required": [key]},
                    "then": {"$ref": f"#/$defs/{ref}"},
                }
            )
        return out

    props["templates"]["items"]["allOf"] = [
        {
            "if": {"properties": {"name": {"const": name}}, "required": ["name"]},
            "then": {"properties": {"params": {"$ref": f"#/$defs/templates.{name}"}}},
        }
        for name in components("templates")
    ]
    for name, template in components("templates").items():
        defs[f"templates.{name}"] = template.params.schema
    props["tasks"]["items"]["allOf"] = [
        {
            "if": {"properties": {"type": {"const": name}}, "required": ["type"]},
            "then": {"properties": {"params": {"$ref": f"#/$defs/tasks.{name}"}}},
        }
        for name in components("tasks")
    ]
    for name, task in components("tasks").items():
        defs[f"tasks.{name}"] = Params.of_component(task).schema
    for name, writer in components("writers").items():  # for reference: no step names one
        defs[f"writers.{name}"] = Params.of_component(writer).schema
    step_cases = []
    for name, kind in components("steps").items():
        own = Params([*kind.params])
        if kind.component is not None:
            key, component_kind = kind.component
            step_schema: dict[str, Any] = {"allOf": branches(key, component_kind, own)}
        else:
            step_schema = own.schema
        defs[f"steps.{name}"] = step_schema
        step_cases.append(
            {
                "if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                "then": {"properties": {"params": {"$ref": f"#/$defs/steps.{name}"}}},
            }
        )
        if name in shorthand.SECTIONS and name in props:
            section = f"steps.{name}"
            if name == "eval":  # the section also takes a harness (another eval step kind)
                section = "sections.eval"
                step_schema = defs[f"steps.{name}"]
                defs[section] = {
                    **step_schema,
                    "properties": {**step_schema.get("properties", {}), "harness": HARNESS},
                }
            props[name] = {**props[name], "$ref": f"#/$defs/{section}"}
    props["steps"]["items"]["allOf"] = step_cases
    # a template may be named alone (the loader reads "- name" as "- {name: name}")
    props["templates"]["items"] = {
        "anyOf": [{"type": "string", "minLength": 1}, props["templates"]["items"]]
    }
    return schema
