"""The ``judge`` step: a local model rates every evaluated model's answers to a generation task
with the rating prompt of self-curation, and reports each model's mean score and its win rate
over a baseline model (ties count half), the paper's evaluation with a judge you have."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import cookbook.engine as engine
from cookbook import (
    Artifact,
    CookbookError,
    Input,
    Param,
    Results,
    StepContext,
    StepProblem,
    get_registry,
    markdown_table,
    read_jsonl,
    step_kind,
)
from cookbook_plugins.backtranslation.rating import (
    DEFAULT_RATING_PROMPT,
    check_rating_prompt,
    parse_score,
    render_rating_prompt,
)


def win_rate(scores: Sequence[int | None], baseline: Sequence[int | None]) -> dict[str, Any]:
    """Wins, ties and losses of ``scores`` over ``baseline`` on the same instructions (pairs
    where either is unscored are left out), and the win rate in percent, ties counting half."""
    wins = ties = losses = 0
    for mine, theirs in zip(scores, baseline, strict=True):
        if mine is None or theirs is None:
            continue
        wins += mine > theirs
        ties += mine == theirs
        losses += mine < theirs
    compared = wins + ties + losses
    rate = 100 * (wins + ties / 2) / compared if compared else None
    return {"wins": wins, "ties": ties, "losses": losses, "compared": compared, "win_rate": rate}


def mean_score(scores: Sequence[int | None]) -> float | None:
    """The mean of the scores given (None when none was)."""
    given = [s for s in scores if s is not None]
    return sum(given) / len(given) if given else None


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    problems = []
    try:
        check_rating_prompt(params.get("prompt", DEFAULT_RATING_PROMPT))
    except CookbookError as exc:
        problems.append(StepProblem(("prompt",), str(exc)))
    task = params.get("task")
    if task is not None and task not in [t.name for t in pipeline.tasks]:
        problems.append(StepProblem(("task",), f"{task!r} is not one of the pipeline's tasks"))
    problem = engine.model_problem(params.get("model"))
    if problem:
        problems.append(StepProblem(("model",), problem))
    return problems


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    rows = outputs["results"].rows
    table = [
        [
            r["model"],
            "-" if r["value"] is None else f"{r['value']:.2f}",
            "-" if r["result"]["win_rate"] is None else f"{r['result']['win_rate']:.1f}",
            f"{r['result']['wins']}/{r['result']['ties']}/{r['result']['losses']}",
            str(r["result"]["unscored"]),
        ]
        for r in rows
    ]
    header = ["model", "mean score (1-5)", f"win rate over {params['baseline']} (%)",
              "wins/ties/losses", "unscored"]  # fmt: skip
    return (
        f"Judged by {params['model']} ({params['rating']}) on task {params['task']}:\n\n"
        + markdown_table(header, table)
    )


@step_kind(
    inputs={"results": Input("results", description="An eval step that generated answers.")},
    outputs={"results": "results"},
    uses=("tasks",),
    check=_check,
    card=_card,
)
def judge(
    ctx: StepContext,
    *,
    model: Annotated[str, Param("The judge: a local model folder or a known alias.")],
    task: Annotated[str, Param("The generation task whose answers are judged.")],
    baseline: Annotated[str, Param("The model label win rates are measured against.")] = "base",
    prompt: Annotated[
        str, Param("Rating prompt with {instruction} and {output}.")
    ] = DEFAULT_RATING_PROMPT,
    rating: Annotated[
        Literal["reply", "likelihood"],
        Param("reply: the judge writes 'Score: N', parsed; likelihood: the likeliest score."),
    ] = "reply",
    max_new_tokens: Annotated[int, Param("Longest rating reply, in tokens.", minimum=1)] = 64,
    batch_size: Annotated[int, Param("Answers per batch.", minimum=1)] = 8,
) -> dict[str, Artifact]:
    """Each model's mean judge score on ``task`` and its win rate over ``baseline``."""
    from cookbook_plugins.backtranslation.steps import _generate, _likeliest_scores

    evaluated: Results = ctx.inputs["results"]
    if evaluated.generations is None:
        raise CookbookError(
            f"step {ctx.name!r}: its results keep no generations (an eval step cached by an"
            " older Cookbook): rerun that step with --force"
        )
    labels = [r["model"] for r in evaluated.rows if r["kind"] == "task" and r["name"] == task]
    if not labels:
        raise CookbookError(f"step {ctx.name!r}: the results have no model evaluated on {task!r}")
    if baseline not in labels:
        raise CookbookError(
            f"step {ctx.name!r}: baseline {baseline!r} was not evaluated on {task!r}"
            f" (models: {', '.join(labels)})"
        )
    instructions = _instructions(ctx, task)
    answers = {label: _answers(evaluated.generations, label, task) for label in labels}
    ids = [i for i in answers[baseline] if i in instructions]
    judge_lm = engine.load_eval_model(model)
    scores: dict[str, list[int | None]] = {}
    replies: dict[str, list[str]] = {}
    for label in labels:
        prompts = [
            render_rating_prompt(prompt, instructions[i], answers[label].get(i, "")) for i in ids
        ]
        what = f"judge {label}"
        if rating == "likelihood":
            replies[label] = _likeliest_scores(judge_lm, prompts, batch_size, what)
        else:
            replies[label] = _generate(judge_lm, prompts, max_new_tokens, batch_size, what)
        scores[label] = [parse_score(reply) for reply in replies[label]]
    engine.write_jsonl(
        ctx.folder / "judgements.jsonl",
        [{"model": label, "id": i, "score": s, "reply": reply}
         for label in labels
         for i, s, reply in zip(ids, scores[label], replies[label], strict=True)],
    )  # fmt: skip
    rows = []
    for label in labels:
        against = win_rate(scores[label], scores[baseline])
        unscored = sum(s is None for s in scores[label])
        rows.append(
            {"model": label, "kind": "judge", "name": task, "metric": "judge_score",
             "value": mean_score(scores[label]), "alignment": None,
             "result": {**against, "unscored": unscored, "judged": len(ids)}}
        )  # fmt: skip
        shown = "-" if against["win_rate"] is None else f"{against['win_rate']:.1f}%"
        ctx.log(f"{label}: mean score {rows[-1]['value']}, win rate over {baseline} {shown}")
    return {"results": Results(rows=rows, generations=None)}


def _instructions(ctx: StepContext, task_name: str) -> dict[str, str]:
    """Each record id of the task, and the instruction its answer is judged against."""
    use = ctx.pipeline.task(task_name)
    task = get_registry().get("tasks", use.type)
    return {
        record.id: str(record.slots.get("instruction") or record.prompt or "")
        for record in task.read(use.path, use.split, **use.params)
    }


def _answers(folder: Path, label: str, task: str) -> dict[str, str]:
    """The answers a model gave to a task, by record id."""
    file = folder / f"{label}-{task}.jsonl"
    if not file.is_file():
        raise CookbookError(f"{file}: no generations of {label!r} on {task!r}")
    return {str(row["id"]): str(row.get("output", "")) for _, row in read_jsonl(file)}
