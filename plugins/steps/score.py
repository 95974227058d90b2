"""The ``score`` step: each task's alignment statistic under each template (no training)."""

from __future__ import annotations

from typing import Annotated

import cookbook.engine as engine
from cookbook import Artifact, Param, Scores, StepContext, get_registry, markdown_table, step_kind
from cookbook_plugins.steps.common import task_records


def _card(name: str, outputs: dict, params: dict, pipeline) -> str:
    scores = outputs["scores"].scores
    names = [t.name for t in pipeline.templates]
    rows = [[task, *[row.get(n) for n in names]] for task, row in scores.items()]
    counts = ", ".join(f"{task} {n}" for task, n in outputs["scores"].n.items())
    return "\n".join(
        [
            "## Alignment statistics",
            "",
            "Share of each task's gold answers that follow each template's rule"
            f" (records: {counts}).",
            "",
            markdown_table(["task", *names], rows),
        ]
    )


@step_kind(outputs={"scores": "scores"}, uses=("templates", "tasks", "engine"), card=_card)
def score(
    ctx: StepContext,
    *,
    limit: Annotated[
        int, Param("Development records per task (a task's dev_limit wins).", minimum=1)
    ] = 500,
) -> dict[str, Artifact]:
    """The alignment statistic of every task's gold answers under every template."""
    registry = get_registry()
    tasks = []
    for task in ctx.pipeline.tasks:
        if registry.get("tasks", task.type).template is None:
            ctx.log(f"{task.name}: no template describes this task; left out of the scores")
        else:
            tasks.append(task)
    records = {t.name: task_records(t, t.dev_limit or limit) for t in tasks}
    templates = {t.name: registry.get("templates", t.name) for t in ctx.pipeline.templates}
    params = {t.name: t.params for t in ctx.pipeline.templates}
    no_gold: dict[str, int] = {}
    execution = ctx.pipeline.execution
    if execution.get("engine") == "ray":  # the same matrix, record ranges on Ray tasks
        matrix = engine.alignment_matrix_on_ray(
            records, templates, params, no_gold=no_gold, address=execution.get("address"),
            shard_size=execution.get("score_shard_size", 50_000),
        )  # fmt: skip
    else:
        matrix = engine.alignment_matrix(records, templates, params, no_gold=no_gold)
    for task, skipped in no_gold.items():
        if skipped:
            ctx.log(f"{task}: {skipped} records without a non-empty gold answer skipped")
    file = ctx.folder / "alignment.csv"
    engine.write_scores_csv(matrix, file)
    n = {name: len(recs) - no_gold.get(name, 0) for name, recs in records.items()}
    return {"scores": Scores(scores=matrix.as_mapping(), file=file, n=n)}
