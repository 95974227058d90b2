"""The ``lm_eval`` step: lm-evaluation-harness tasks (its own, and the pipeline's tasks
exported as harness tasks) on the base model and the tuned ones, as rows beside Cookbook's."""

from __future__ import annotations

from typing import Annotated, Any

from cookbook import (
    Artifact,
    Input,
    Param,
    Results,
    StepContext,
    StepProblem,
    markdown_table,
    step_kind,
)
from cookbook_plugins.lm_eval_harness.harness import run_harness
from cookbook_plugins.lm_eval_harness.task_export import export_task, harness_name

BASE = "base"


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    names = [t.name for t in pipeline.tasks]
    problems = [
        StepProblem(("export", i), f"{name!r} is not one of the pipeline's tasks")
        for i, name in enumerate(params.get("export") or [])
        if name not in names
    ]
    if not params.get("tasks") and not params.get("export"):
        problems.append(StepProblem(("tasks",), "name lm-eval tasks, or pipeline tasks to export"))
    steps = inputs.get("models") or []
    labels = params.get("labels") or {}
    problems += [
        StepProblem(("labels", step), f"{step!r} is not one of this step's models")
        for step in labels
        if step not in steps
    ]
    names = [labels.get(step, step) for step in steps]
    if params.get("base", True) or not steps:
        names.append(BASE)
    problems += [
        StepProblem(("labels",), f"two models would be labelled {name!r} in the results")
        for name in sorted({n for n in names if names.count(n) > 1})
    ]
    return problems


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    """Each harness metric for every model (base first), and the last model's difference
    from the first, as the eval step's results are shown."""
    rows = outputs["results"].rows
    labels = list(dict.fromkeys(r["model"] for r in rows))
    cells: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        cells.setdefault((row["name"], row["metric"]), {})[row["model"]] = row["value"]
    header = ["lm-eval task", "metric (acc x100)", *labels]
    if len(labels) > 1:
        header.append(f"{labels[-1]} - {labels[0]}")
    table = []
    for (task, metric), values in cells.items():
        line = [task, metric, *[f"{values[m]:.2f}" if m in values else "-" for m in labels]]
        if len(labels) > 1:
            first, last = values.get(labels[0]), values.get(labels[-1])
            line.append("-" if first is None or last is None else f"{last - first:+.2f}")
        table.append(line)
    return f"## lm-evaluation-harness: {name}\n\n" + markdown_table(header, table)


@step_kind(
    inputs={"models": Input("model", many=True, optional=True, description="Models to score.")},
    outputs={"results": "results"},
    uses=("model", "tasks"),
    check=_check,
    card=_card,
    harness=True,
)
def lm_eval(
    ctx: StepContext,
    *,
    tasks: Annotated[list[str], Param("lm-eval task names (its own, or --include_path's).")] = [],  # noqa: B006
    export: Annotated[
        list[str], Param("Pipeline tasks to export as harness tasks and score there too.")
    ] = [],  # noqa: B006
    include_path: Annotated[
        str | None, Param("A folder of lm-eval task YAML (local data files).", format="path")
    ] = None,
    limit: Annotated[int | None, Param("Records per task.", minimum=1)] = None,
    num_fewshot: Annotated[
        int | None, Param("Few-shot examples (task default).", minimum=0)
    ] = None,
    batch_size: Annotated[int, Param("Requests per batch.", minimum=1)] = 8,
    base: Annotated[bool, Param("Score the base model too.")] = True,
    labels: Annotated[
        dict[str, str] | None, Param("A label per input step in results (default: its name).")
    ] = None,
) -> dict[str, Artifact]:
    """Each model's lm-eval metrics on each task, scaled to 0-100."""
    folder = ctx.folder / "tasks"
    names = list(tasks)
    for task_name in export:
        use = ctx.pipeline.task(task_name)
        export_task(use.type, use.path, folder, name=task_name, split=use.split,
                    params=use.params, limit=use.eval_limit or limit)  # fmt: skip
        names.append(harness_name(task_name))
    include = [p for p in (include_path, str(folder) if export else None) if p]
    models = [(BASE, None)] if base or not ctx.inputs.get("models") else []
    for step, model in zip(ctx.sources.get("models", []), ctx.inputs.get("models") or [],
                           strict=True):  # fmt: skip
        models.append(((labels or {}).get(step, step), model))
    rows = []
    for label, model in models:
        name = model.base if model is not None else ctx.pipeline.model
        adapter = str(model.adapter) if model is not None and model.adapter else None
        ctx.log(f"lm-eval: {label} on {', '.join(names)}")
        metrics = run_harness(names, name, adapter, include_path=include or None, limit=limit,
                              batch_size=batch_size, num_fewshot=num_fewshot)  # fmt: skip
        for task_name, values in metrics.items():
            for metric, value in values.items():
                if metric == "sample_len":
                    continue
                rows.append(
                    {"model": label, "kind": "lm-eval", "name": task_name, "metric": metric,
                     "value": 100 * value if metric.startswith("acc") else value,
                     "alignment": None, "result": values}
                )  # fmt: skip
                ctx.log(f"{label}: {task_name} {metric} {rows[-1]['value']:.2f}")
    return {"results": Results(rows=rows)}
