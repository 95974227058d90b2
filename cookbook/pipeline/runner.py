"""Running a validated pipeline into its run folder: steps, manifest, logs and dataset card.

Each step runs in its own folder under ``steps/``, cached under a hash of its kind's code, its
parameters, what it ``uses`` of the pipeline and the hashes of the steps it reads, so editing
a template re-runs what depends on it and nothing else.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.markup import escape

from cookbook import __version__
from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params, ParamSpec
from cookbook.contract.steps import Artifact, Dataset, PipelineContext, StepContext, StepKind
from cookbook.pipeline.cache import (
    StepResult,
    cached_step,
    content_hash,
    file_digest,
    partial_folder,
    run_step,
    source_digest,
    step_folder,
    unfinished_note,
    write_json_atomic,
    write_text_atomic,
)
from cookbook.pipeline.card import dataset_card
from cookbook.pipeline.config import PATH_FORMAT, Pipeline, StepSpec
from cookbook.registry import get_registry, strict_plugins


@dataclass
class PlannedStep:
    """A step as ``cookbook plan`` shows it: what it reads, its hash, whether it is cached."""

    name: str
    kind: str
    inputs: dict[str, list[str]]
    hash: str
    cached: bool


def component_version(kind: str, name: str) -> str:
    """The component's plugin version and the hash of its source, so edits re-run steps."""
    info = get_registry().plugin_of(kind, name)
    digest = source_digest(info.module) if info.module else ""
    return f"{info.version}+{digest}" if digest else info.version


def _uses(context: PipelineContext, uses: tuple[str, ...]) -> dict[str, Any]:
    """What a step reads of the pipeline, as it enters the step's hash."""
    out: dict[str, Any] = {}
    if "seed" in uses:
        out["seed"] = context.seed
    if "model" in uses:
        out["model"] = context.model
    if "token_space" in uses:
        out["token_space"] = context.token_space
    if "templates" in uses:
        out["templates"] = [
            {
                "name": t.name,
                "params": _params_by_content(get_registry().get("templates", t.name), t.params),
                "version": component_version("templates", t.name),
            }
            for t in context.templates
        ]
    if "tasks" in uses:
        tasks = []
        for t in context.tasks:
            component = get_registry().get("tasks", t.type)
            entry = {**asdict(t), "data": file_digest(t.path), "version": _version_of_task(t.type)}
            entry["params"] = _params_by_content(component, t.params)
            if t.dev_path:
                entry["dev_data"] = file_digest(t.dev_path)
            entry.pop("path"), entry.pop("dev_path")
            tasks.append(entry)
        out["tasks"] = tasks
    if "engine" in uses:
        out["engine"] = f"{__version__}+{source_digest('cookbook')}"
    return out


def _by_content(spec: ParamSpec | None, value: Any) -> Any:
    """A file parameter's value as it enters a cache key: its file name and content hash."""
    if spec is not None and spec.schema.get("format") == PATH_FORMAT and value:
        return {"path": Path(value).name, "data": file_digest(value)}
    return value


def _params_by_content(component: Any, params: dict[str, Any]) -> dict[str, Any]:
    """A component's parameters as they enter a cache key: file parameters by content, those
    marked ``Param(cache=False)`` left out."""
    declared = {s.name: s for s in Params.of_component(component)}
    return {
        k: _by_content(declared.get(k), v)
        for k, v in params.items()
        if k not in declared or declared[k].cache
    }


def step_params(kind: StepKind, params: dict[str, Any]) -> Params:
    """The parameters a step of ``kind`` declares: its own and its component's."""
    if kind.component is None:
        return kind.params
    key, component_kind = kind.component
    component = get_registry().get(component_kind, params[key])
    return Params([*kind.params, *Params.of_component(component)])


def _version_of_task(task_type: str) -> str:
    return component_version("tasks", task_type)


def _kind(spec: StepSpec) -> StepKind:
    return get_registry().get("steps", spec.kind)


def step_record(spec: StepSpec, context: PipelineContext, hashes: dict[str, str]) -> dict:
    """What a step's hash is made of: its kind's code, its parameters (file parameters by
    content), what it uses of the pipeline, and the hashes of the steps it reads."""
    kind = _kind(spec)
    declared = {s.name: s for s in step_params(kind, spec.params)}
    params = {}
    components = {}
    for key, value in spec.params.items():
        spec_of = declared.get(key)
        if spec_of is not None and not spec_of.cache:
            continue
        if spec_of is not None and spec_of.component and isinstance(value, str):
            components[key] = component_version(spec_of.component, value)
        if spec_of is not None and spec_of.params_of and isinstance(value, dict):
            owner = declared[spec_of.params_of]
            named = spec.params.get(spec_of.params_of)
            if owner.component and isinstance(named, str):
                value = _params_by_content(get_registry().get(owner.component, named), value)
        params[key] = _by_content(spec_of, value)
    record: dict[str, Any] = {
        "kind_version": component_version("steps", spec.kind),
        "params": params,
        "uses": _uses(context, kind.uses),
        "inputs": {
            key: [[output, hashes[step]] for step, output in refs]
            for key, refs in sorted(spec.inputs.items())
        },
    }
    if components:
        record["components"] = components
    if kind.component is not None:
        key, component_kind = kind.component
        record["component"] = component_version(component_kind, spec.params[key])
    return record


def plan(pipeline: Pipeline) -> list[PlannedStep]:
    """Each step with its hash and whether it is cached, without running anything (a step
    whose inputs are not done yet is shown with the hash it will have)."""
    hashes: dict[str, str] = {}
    rows = []
    for spec in pipeline.steps:
        record = step_record(spec, pipeline.context, hashes)
        digest = content_hash({"kind": spec.kind, **record})
        hashes[spec.name] = digest
        cached = cached_step(pipeline.output_dir, spec.name, digest) is not None
        inputs = {k: [step for step, _ in refs] for k, refs in spec.inputs.items()}
        rows.append(PlannedStep(spec.name, spec.kind, inputs, digest, cached))
    return rows


def _inputs(spec: StepSpec, kind: StepKind, results: dict[str, StepResult]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key, declared in kind.inputs.items():
        refs = spec.inputs.get(key)
        if refs is None:
            values[key] = [] if declared.many else None
            continue
        artifacts = [results[step].outputs[output] for step, output in refs]
        values[key] = artifacts if declared.many else artifacts[0]
    return values


def _checked_outputs(spec: StepSpec, kind: StepKind, outputs: Any) -> dict[str, Artifact]:
    if not isinstance(outputs, dict) or set(outputs) != set(kind.outputs):
        got = sorted(outputs) if isinstance(outputs, dict) else type(outputs).__name__
        raise CookbookError(
            f"step {spec.name!r} (kind {kind.name!r}) returned {got},"
            f" not its declared outputs {sorted(kind.outputs)}"
        )
    for key, value in outputs.items():
        if not isinstance(value, Artifact) or not Artifact.feeds(value.TYPE, kind.outputs[key]):
            raise CookbookError(
                f"step {spec.name!r} (kind {kind.name!r}): output {key!r} must be a"
                f" {kind.outputs[key]} artifact, not {value!r:.80}"
            )
    return outputs


def run(pipeline: Pipeline, *, force: bool = False, console: Console | None = None) -> dict:
    """Run every step (cached ones are reused) and write the manifest and the card."""
    console = console or Console(stderr=True)
    root = pipeline.output_dir
    root.mkdir(parents=True, exist_ok=True)
    resolved = yaml.safe_dump(pipeline.resolved(), sort_keys=False, allow_unicode=True)
    write_text_atomic(root / "pipeline.yaml", resolved)
    log = _Log(root / "logs" / "run.log")
    log.write(f"run {pipeline.path} (cookbook {__version__})")
    results: dict[str, StepResult] = {}
    hashes: dict[str, str] = {}
    for spec in pipeline.steps:
        kind = _kind(spec)
        record = step_record(spec, pipeline.context, hashes)
        digest = content_hash({"kind": spec.kind, **record})
        hashes[spec.name] = digest
        title = spec.name if spec.name == kind.name else f"{spec.name} ({kind.name})"
        console.rule(f"[bold]{escape(title)}")

        def work(folder: Path, spec: StepSpec = spec, kind: StepKind = kind) -> dict:
            ctx = StepContext(
                name=spec.name,
                params=dict(spec.params),
                inputs=_inputs(spec, kind, results),
                pipeline=pipeline.context,
                folder=folder,
                sources={k: [step for step, _ in refs] for k, refs in spec.inputs.items()},
                log=lambda message: console.print(message, highlight=False),
            )
            try:
                outputs = kind.run(ctx, **spec.params)
            except (CookbookError, KeyboardInterrupt):
                raise
            except Exception as exc:
                if strict_plugins():
                    raise
                plugin = get_registry().plugin_of("steps", spec.kind)
                raise CookbookError(
                    f"step {spec.name!r} (kind {spec.kind!r}, plugin {plugin.name}"
                    f" {plugin.version}) failed: {type(exc).__name__}: {exc}"
                    " (COOKBOOK_STRICT_PLUGINS=1 shows the traceback)"
                ) from exc
            return _checked_outputs(spec, kind, outputs)

        try:
            result = run_step(root, spec.name, spec.kind, digest, record, work, force=force)
        except BaseException as exc:
            log.write(f"{spec.name}: stopped: {type(exc).__name__}: {exc}")
            if not isinstance(exc, CookbookError):  # its message already says what is left
                note = unfinished_note(root, partial_folder(root, spec.name, digest))
                log.write(f"{spec.name}: {note}")
                console.print(escape(f"{spec.name}: stopped {note}"), highlight=False)
            raise
        results[spec.name] = result
        state = "cached" if result.cached else f"done in {result.seconds:.1f}s"
        console.print(f"{spec.name}: {state}  [dim]{result.folder.relative_to(root)}[/]")
        log.write(f"{spec.name}: {state} ({result.hash})")
    manifest = _manifest(pipeline, results)
    write_json_atomic(root / "manifest.json", manifest)
    data_file = _link_last_dataset(root, results)
    write_text_atomic(root / "README.md", dataset_card(pipeline, results, data_file))
    log.write("finished")
    return manifest


def _manifest(pipeline: Pipeline, results: dict[str, StepResult]) -> dict[str, Any]:
    registry = get_registry()
    root = pipeline.output_dir
    return {
        "name": pipeline.name,
        "cookbook": __version__,
        "pipeline": "pipeline.yaml",
        "steps": [
            {
                "name": r.name,
                "kind": r.kind,
                "hash": r.hash,
                "folder": str(r.folder.relative_to(root)),
                "seconds": r.seconds,
                "outputs": {k: v.to_json(r.folder) for k, v in r.outputs.items()},
            }
            for r in results.values()
        ],
        "plugins": {
            p.name: {"version": p.version, "distribution": p.distribution, "status": p.status}
            for p in registry.plugins
        },
    }


def _link_last_dataset(root: Path, results: dict[str, StepResult]) -> str | None:
    """``RUN/samples.jsonl``: the last dataset the run made, hard-linked (copied where links
    fail); its file name, or None when the run made no dataset."""
    datasets = [a for r in results.values() for a in r.outputs.values() if isinstance(a, Dataset)]
    if not datasets:
        return None
    source = Path(datasets[-1].file)
    if source.is_dir():
        return _link_shards(root, source)
    target = root / f"samples{source.suffix}"
    if target.exists() and os.path.samefile(source, target):
        return target.name
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    return target.name


def _link_shards(root: Path, source: Path) -> str:
    """``RUN/samples/``: a folder of shards (Ray generation's, kept), each data file
    hard-linked (copied where links fail); the pattern naming them for the card."""
    import shutil

    from cookbook.engine.formats import data_files

    target, tmp = root / "samples", root / ".samples.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for file in data_files(source):
        try:
            os.link(file, tmp / file.name)
        except OSError:
            shutil.copyfile(file, tmp / file.name)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    return "samples/train-*"


class _Log:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, message: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")


__all__ = ["PlannedStep", "component_version", "plan", "run", "step_folder", "step_record"]
