"""The ``mix`` step: Cookbook-Mix weights over templates from a tasks x templates score matrix.

Scores come from an upstream ``scores`` artifact (the alignment statistic), from a CSV file,
or from proxy runs: a short training on each template alone, then each task's main metric on
its development records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import cookbook.engine as engine
from cookbook import (
    Artifact,
    CookbookError,
    Input,
    Mixture,
    Param,
    StepContext,
    StepProblem,
    markdown_table,
    step_kind,
)
from cookbook_plugins.steps.common import calibration_data, device_problems


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    source = params.get("scores")
    if source == "file" and not params.get("file"):
        return [StepProblem((), "scores: file needs a 'file' with the score CSV")]
    if source == "alignment" and not inputs.get("scores"):
        return [
            StepProblem(
                ("scores",),
                "scores: alignment needs tasks with data: a scores input from a score step"
                " (the sectioned form adds one when the pipeline has tasks)",
            )
        ]
    if source == "proxy":
        if not pipeline.tasks:
            return [StepProblem(("scores",), "scores: proxy needs tasks with data")]
        if not pipeline.model:
            return [StepProblem(("scores",), "scores: proxy needs a model to train")]
        return device_problems(params.get("proxy_params"), ("proxy_params",))
    return []


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    mixture = outputs["mixture"]
    rows = [
        [task, value, mixture.uniform_predicted.get(task)]
        for task, value in mixture.predicted.items()
    ]
    return "\n".join(
        [
            f"## Mixture ({mixture.mixer}, scores: {mixture.source})",
            "",
            markdown_table(["task", "predicted (mixture)", "predicted (uniform)"], rows),
        ]
    )


@step_kind(
    inputs={"scores": Input("scores", optional=True, description="For scores: alignment.")},
    outputs={"mixture": "mixture"},
    uses=("templates", "tasks", "model", "seed", "token_space", "engine"),
    component=("mixer", "mixers"),
    check=_check,
    card=_card,
)
def mix(
    ctx: StepContext,
    *,
    mixer: Annotated[str, Param("The mixer: cvxpy, uniform, fixed, or a plugin's.")],
    scores: Annotated[
        Literal["alignment", "proxy", "file"],
        Param("Where the score matrix comes from."),
    ] = "alignment",
    file: Annotated[
        str | None,
        Param("Score CSV (task,<template>,...) when scores: file.", format="path"),
    ] = None,
    samples: Annotated[
        int | None, Param("Also give per-template sample counts summing to this.", minimum=1)
    ] = None,
    proxy_trainer: Annotated[
        str, Param("For scores: proxy, the trainer of the proxy runs.", component="trainers")
    ] = "lora",
    proxy_params: Annotated[
        dict[str, Any] | None,
        Param(
            "For scores: proxy, the trainer's parameters (the sectioned form: the train"
            " section's).",
            params_of="proxy_trainer",
        ),
    ] = None,
    proxy_samples: Annotated[
        int, Param("For scores: proxy, samples per template run (at most).", minimum=1)
    ] = 500,
    proxy_dev_limit: Annotated[
        int,
        Param(
            "For scores: proxy, development records per task (a task's dev_limit wins).", minimum=1
        ),
    ] = 100,
    **mixer_params: Any,
) -> dict[str, Artifact]:
    """Weights over the pipeline's templates that serve its tasks (Cookbook-Mix)."""
    if scores == "file":
        matrix: Any = engine.read_scores_csv(file)
    elif scores == "alignment":
        matrix = ctx.inputs["scores"].scores
    else:
        budget = min(samples or proxy_samples, proxy_samples)
        matrix = _proxy_scores(
            ctx, proxy_trainer, dict(proxy_params or {}), budget, proxy_dev_limit
        )
    templates = [t.name for t in ctx.pipeline.templates]
    mapping = matrix if isinstance(matrix, dict) else matrix.as_mapping()
    missing = [t for t in templates if any(t not in row for row in mapping.values())]
    if missing:
        raise CookbookError(f"mix: the scores have no column for template {missing[0]!r}")
    mapping = {task: {t: row[t] for t in templates} for task, row in mapping.items()}
    document = engine.learn_mixture(mapping, mixer, mixer_params, source=scores, total=samples)
    path = ctx.folder / "mixture.json"
    engine.write_mixture(path, document)
    return {
        "mixture": Mixture(
            weights=document["weights"],
            file=path,
            counts=document.get("counts"),
            predicted=document["predicted"],
            uniform_predicted=document["uniform_predicted"],
            mixer=mixer,
            source=scores,
        )
    }


def _proxy_scores(
    ctx: StepContext, trainer: str, train: dict[str, Any], samples: int, dev_limit: int
) -> Any:
    """Each task's main metric after a short training on each template alone."""
    pipeline = ctx.pipeline
    tasks = pipeline.tasks
    by_name = {t.name: t for t in pipeline.templates}

    def train_one(template: str) -> str:
        ctx.log(f"proxy run: training on {template} alone")
        folder = ctx.folder / "proxy" / template
        data = folder / "samples.jsonl"
        if not data.exists():
            job = engine.Job(template, samples, by_name[template].params)
            engine.generate([job], pipeline.seed, data, token_space=pipeline.token_space)
        model = folder / "model"
        engine.train_model(
            trainer, data, pipeline.model, model, train, seed=pipeline.seed, resume="auto"
        )
        return str(model)

    def evaluate(adapter: str | None) -> dict[str, float]:
        tuned = f"the model tuned on {Path(adapter).parent.name}" if adapter else "the base model"
        ctx.log(f"proxy run: {tuned} on the development records of {len(tasks)} tasks")
        out = {}
        for task in tasks:
            path, split, skip = task.dev()
            limit = task.dev_limit or dev_limit
            result = engine.evaluate_task(
                task.type,
                path,
                pipeline.model,
                adapter,
                split=split,
                skip=skip,
                limit=limit,
                params=task.params,
                chat_template=task.chat_template,
                # a calibrated task is scored with its threshold fitted on these same records
                dev=calibration_data(task, limit),
            )
            value = float(result[result["main_metric"]])
            out[task.name] = value if result["higher_is_better"] else -value
        return out

    return engine.proxy_matrix(
        [t.name for t in tasks],
        [t.name for t in pipeline.templates],
        train_one,
        evaluate,
        base=None,
        cache_dir=ctx.folder / "proxy-cache",
    )
