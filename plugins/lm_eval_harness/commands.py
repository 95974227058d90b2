"""``cookbook export-task`` and ``cookbook lm-eval``: Cookbook tasks as lm-eval task YAML, and
lm-eval tasks run on a model and adapter from the command line."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def export_task_command(
    task: Annotated[str, typer.Argument(help="A Cookbook task type (squad, copa, ...).")],
    data: Annotated[str, typer.Option("--data", help="The task's data path.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the YAML.")],
    name: Annotated[str | None, typer.Option(help="Task name (default: the type).")] = None,
    split: Annotated[str | None, typer.Option(help="Which split of --data.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="First N records only.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Task parameter KEY=VALUE.")
    ] = None,
) -> None:
    """Write a Cookbook task's records as an lm-eval task (YAML + local JSONL): then
    lm_eval --include_path FOLDER --tasks cookbook_NAME."""
    from cookbook_plugins.lm_eval_harness.task_export import export_task

    params = dict(_pairs(param))
    path = export_task(task, data, output, name=name, split=split, params=params, limit=limit)
    typer.echo(f"wrote {path}: lm_eval --include_path {output} --tasks {path.stem}")


def lm_eval_command(
    task: Annotated[list[str], typer.Option("--task", help="lm-eval task name (repeatable).")],
    model: Annotated[str, typer.Option("--model", help="Model alias or folder.")] = (
        "smollm2-135m-instruct"
    ),
    adapter: Annotated[str | None, typer.Option(help="LoRA adapter folder.")] = None,
    include_path: Annotated[str | None, typer.Option(help="Folder of task YAML.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Records per task.")] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Requests per batch.")] = 8,
) -> None:
    """Run lm-evaluation-harness tasks on a model (and adapter), offline, and print them."""
    import json

    from cookbook_plugins.lm_eval_harness.harness import run_harness

    results = run_harness(task, model, adapter, include_path=include_path, limit=limit,
                          batch_size=batch_size)  # fmt: skip
    typer.echo(json.dumps(results, indent=2))


def _pairs(items: list[str] | None) -> list[tuple[str, object]]:
    import yaml

    from cookbook import CookbookError

    pairs = []
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq:
            raise CookbookError(f"--param {item}: write KEY=VALUE")
        pairs.append((key, yaml.safe_load(value)))
    return pairs


def register(cli: typer.Typer) -> None:
    cli.command("export-task")(export_task_command)
    cli.command("lm-eval")(lm_eval_command)
