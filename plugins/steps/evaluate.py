"""The ``eval`` step: models on the pipeline's real tasks and on fresh template samples.

Each model is scored on each named task with the task's main metric, beside the alignment
statistic of its outputs, and on held-out samples of each template (does it follow the rule?).
The base model is evaluated too unless ``base: false``; a plot compares them.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import PurePath
from typing import Annotated, Any

import cookbook.engine as engine
from cookbook import (
    Artifact,
    CookbookError,
    Input,
    Param,
    Results,
    StepContext,
    StepProblem,
    TaskUse,
    chat_setting,
    get_registry,
    markdown_table,
    step_kind,
)
from cookbook_plugins.steps.common import calibration_data, jsonable, needs_model

BASE = "base"
#: Where evaluation on Ray keeps its record shards until the step's outputs are written.
RAY_SHARDS = "ray-shards"


def file_stem(name: str) -> str:
    """A template's name as one file name: a spec named by its path becomes the file's stem
    and a short hash of the path (two specs of one file name in two folders stay apart)."""
    if "/" not in name and "\\" not in name:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{PurePath(name.replace(chr(92), '/')).stem}-{digest}"


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    problems = needs_model(pipeline, "evaluation")
    steps = inputs.get("models") or []
    labels = params.get("labels") or {}
    for step in labels:
        if step not in steps:
            problems.append(
                StepProblem(("labels", step), f"{step!r} is not one of this step's models")
            )
    names = [labels.get(step, step) for step in steps]
    if params.get("base", True) or not steps:
        names.append(BASE)
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(
            StepProblem(("labels",), f"two models would be labelled {name!r} in the results")
        )
    names = [t.name for t in pipeline.tasks]
    for average, members in (params.get("averages") or {}).items():
        for i, name in enumerate(members):
            if name not in (params.get("tasks") or []):
                problems.append(
                    StepProblem(
                        ("averages", average, i), f"{name!r} is not one of this step's tasks"
                    )
                )
    for i, name in enumerate(params.get("tasks") or []):
        if name not in names:
            known = f" (tasks: {', '.join(map(str, names))})" if names else ""
            problems.append(
                StepProblem(("tasks", i), f"{name!r} is not a task of this pipeline{known}")
            )
    return problems


def _chat(task: TaskUse, model: Any) -> bool | str | None:
    """How prompts are wrapped: as the pipeline's task entry says, else as the task itself
    asks, else as the model was trained (None for the base model: ``auto``)."""
    if task.chat_template is not None:
        return task.chat_template
    component = get_registry().get("tasks", task.type)
    asked = chat_setting(component, engine.task_params(component, task.params))
    if asked is not None or model is None:
        return asked
    return model.chat_template


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    results = outputs["results"]
    labels = list(dict.fromkeys(row["model"] for row in results.rows))
    by_key: dict[tuple, dict[str, Any]] = {}
    for row in results.rows:
        by_key.setdefault((row["kind"], row["name"], row["metric"]), {})[row["model"]] = row
    rows = []
    for (kind, what, metric), by_model in by_key.items():
        formats = {row.get("result", {}).get("format") for row in by_model.values()} - {None}
        if formats:
            metric += f" ({', '.join(sorted(formats))})"
        if any("threshold" in row.get("result", {}) for row in by_model.values()):
            metric += ", decision margin fitted on dev records"
        values = [by_model.get(label, {}).get("value") for label in labels]
        alignments = [by_model.get(label, {}).get("alignment") for label in labels]
        rows.append([f"{what} ({kind})", metric, *values, *alignments])
    header = ["evaluation", "metric", *labels, *[f"alignment {label}" for label in labels]]
    parts = ["## Results" if name == "eval" else f"## Results: {name}", ""]
    parts.append(markdown_table(header, rows))
    if results.plot is not None:
        link = results.plot.relative_to(pipeline.run_folder).as_posix()
        parts += ["", f"![metric and alignment before and after]({link})"]
    return "\n".join(parts)


@step_kind(
    inputs={"models": Input("model", many=True, optional=True, description="Models to score.")},
    outputs={"results": "results"},
    uses=("model", "templates", "tasks", "seed", "token_space", "engine"),
    check=_check,
    card=_card,
    name="eval",
)
def evaluate(
    ctx: StepContext,
    *,
    tasks: Annotated[list[str] | None, Param("Names from the pipeline's tasks.")] = None,
    limit: Annotated[
        int | None, Param("Records per task (a task's eval_limit wins).", minimum=1)
    ] = None,
    template_samples: Annotated[
        int, Param("Fresh held-out samples per template, to measure rule following.", minimum=0)
    ] = 50,
    base: Annotated[bool, Param("Evaluate the base model too, beside the input models.")] = True,
    batch_size: Annotated[int, Param("Prompts per batch.", minimum=1)] = 8,
    labels: Annotated[
        dict[str, str] | None, Param("A label per input step in results (default: its name).")
    ] = None,
    averages: Annotated[
        dict[str, list[str]] | None,
        Param(
            "Named averages of tasks' main metrics, reported as rows of their own"
            " (e.g. gpt4all: [boolq, piqa, hellaswag, winogrande, arc_easy, arc_challenge,"
            " openbookqa])."
        ),
    ] = None,
) -> dict[str, Artifact]:
    """Each model's main metric on each task and its rule-following on each template."""
    pipeline = ctx.pipeline
    inputs = list(zip(ctx.sources.get("models", []), ctx.inputs.get("models") or [], strict=True))
    models: list[tuple[str, Any]] = []
    if base or not inputs:
        models.append((BASE, None))
    for step, model in inputs:
        models.append(((labels or {}).get(step, step), model))
    if len({label for label, _ in models}) != len(models):
        raise CookbookError(f"step {ctx.name!r}: two models have the same label")
    rows = []
    for label, model in models:
        name = model.base if model is not None else pipeline.model
        adapter = str(model.adapter) if model is not None and model.adapter else None
        for task_name in tasks or []:
            task = pipeline.task(task_name)
            result = engine.evaluate_task(
                task.type,
                task.path,
                name,
                adapter,
                split=task.split,
                limit=task.eval_limit or limit,
                params=task.params,
                batch_size=batch_size,
                generations_path=str(ctx.folder / f"{label}-{task_name}.jsonl"),
                chat_template=_chat(task, model),
                dev=calibration_data(task, task.dev_limit),
                execution=pipeline.execution,
                shards=ctx.folder / RAY_SHARDS / f"{label}-{task_name}",
            )
            main = result["main_metric"]
            rows.append(
                {
                    "model": label,
                    "kind": "task",
                    "name": task_name,
                    "metric": main,
                    "value": float(result[main]),
                    "alignment": result.get("alignment"),
                    "result": jsonable(result),
                }
            )
        for average, members in (averages or {}).items():
            values = {r["name"]: r["value"] for r in rows if r["model"] == label}
            mean = sum(values[name] for name in members) / len(members) if members else 0.0
            rows.append(
                {
                    "model": label,
                    "kind": "average",
                    "name": average,
                    "metric": "mean of " + ", ".join(members),
                    "value": mean,
                    "alignment": None,
                    "result": {"tasks": {name: values[name] for name in members}},
                }
            )
        for row in rows:
            if row["model"] == label and row["kind"] != "template":
                ctx.log(f"{label}: {row['name']} {row['metric']} {row['value']:.2f}")
        for template in pipeline.templates if template_samples else ():
            result = engine.evaluate_template(
                template.name,
                name,
                adapter,
                params=template.params,
                n=template_samples,
                seed=pipeline.seed + 1,
                token_space=pipeline.token_space,
                batch_size=batch_size,
                generations_path=str(ctx.folder / f"{label}-{file_stem(template.name)}.jsonl"),
                execution=pipeline.execution,
                shards=ctx.folder / RAY_SHARDS / f"{label}-{file_stem(template.name)}",
            )
            rows.append(
                {
                    "model": label,
                    "kind": "template",
                    "name": template.name,
                    "metric": "exact",
                    "value": 100 * float(result["exact"]),
                    "alignment": result["alignment"],
                    "result": jsonable(result),
                }
            )
    if pipeline.execution.get("engine") == "ray":
        engine.release_ray_models()
        shutil.rmtree(ctx.folder / RAY_SHARDS, ignore_errors=True)  # every output is written
    plot = ctx.folder / "comparison.png"
    try:
        engine.plot_comparison(rows, plot)
    except CookbookError as exc:
        (ctx.folder / "plot-skipped.txt").write_text(f"{exc}\n")
        plot = None
    return {"results": Results(rows=rows, plot=plot, generations=ctx.folder)}
