"""``cookbook eval``: a model's metric on a real task, or its rule-following on template samples,
with the alignment statistic of its outputs beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cookbook.cli.options import parse_params
from cookbook.cli.output import console, plain, safe
from cookbook.contract.errors import CookbookError
from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE
from cookbook.engine.calibration import DevData
from cookbook.engine.models import DEFAULT_MODEL

#: Result keys shown above the metrics, or not as metrics at all.
_NOT_METRICS = (
    "task",
    "template",
    "n",
    "alignment",
    "alignment_ci",
    "model",
    "adapter",
    "seed",
    "main_metric",
    "higher_is_better",
    "no_gold",
    "format",
    "chat_template",
)
_TWO_CHOICES = "Two-choice tasks (e.g. deepmatcher)"


def show_result(result: dict[str, Any], console: Console) -> None:
    """A table of an evaluation result: its metrics, then the alignment with its interval."""
    subject = result.get("task") or result["template"]
    title = subject
    if result.get("task") and result.get("template"):
        title = f"{subject} (template {result['template']})"
    model = result["model"] + (f" + {result['adapter']}" if result.get("adapter") else "")
    table = Table(title=plain(f"{title}: {model}"))
    table.add_column("measure")
    table.add_column("value", justify="right")
    no_gold = result.get("no_gold")
    skipped = f" ({no_gold} without a non-empty gold answer skipped)" if no_gold else ""
    table.add_row("records", f"{result['n']}{skipped}")
    if "chat_template" in result:
        shape = "chat template" if result["chat_template"] else "plain text"
        table.add_row("prompts", plain(" ".join(filter(None, [result.get("format"), shape]))))
    for key, value in result.items():
        if key not in _NOT_METRICS:
            table.add_row(plain(key), f"{value:.4f}")
    if result.get("alignment") is None:
        table.add_row("alignment", "- (no template describes this task)")
    else:
        low, high = result["alignment_ci"]
        alignment = f"{result['alignment']:.4f} [{low:.4f}, {high:.4f}]"
        table.add_row("alignment", alignment, style="bold")
    console.print(table)


def eval_command(
    task: Annotated[
        str | None,
        typer.Option(help="Task to evaluate (e.g. squad); with --harness, its task name(s), a,b."),
    ] = None,
    data: Annotated[str | None, typer.Option(help="The task's data file or folder.")] = None,
    template: Annotated[
        str | None, typer.Option(help="Instead of a task: fresh samples of this template.")
    ] = None,
    model: Annotated[str, typer.Option(help="Model alias, folder or hub name.")] = DEFAULT_MODEL,
    adapter: Annotated[
        str | None, typer.Option(help="LoRA adapter folder to apply on the model.")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Evaluate the first N records.")] = None,
    split: Annotated[str | None, typer.Option(help="Which split or file of --data.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Task (or template) parameter KEY=VALUE."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, help="Prompts per batch.")] = 8,
    max_new_tokens: Annotated[
        int | None, typer.Option(min=1, help="Generation length (default: from the answers).")
    ] = None,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="Template samples (--template).")] = (
        100
    ),
    seed: Annotated[int, typer.Option(min=0, help="Seed of the template samples.")] = 1,
    tokens: Annotated[
        str, typer.Option(help="Token space of the template samples.")
    ] = DEFAULT_TOKEN_SPACE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = (
        False
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write generations (JSONL: id, output).")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    chat_template: Annotated[
        str | None,
        typer.Option(
            help="Wrap prompts in the chat template: true, false or auto (when the tokenizer "
            "has one). Default: as the task asks, else as the adapter was trained."
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            help=f"{_TWO_CHOICES}: pick the first choice when its log-likelihood exceeds the "
            "second's by at least this margin (default 0)."
        ),
    ] = None,
    calibrate_split: Annotated[
        str | None,
        typer.Option(
            help=f"{_TWO_CHOICES}: fit that margin on this split of the development data "
            "(e.g. valid), for the best metric there."
        ),
    ] = None,
    calibrate_data: Annotated[
        str | None,
        typer.Option(help="Development data to fit the margin on (default: --data)."),
    ] = None,
    calibrate_limit: Annotated[
        int | None, typer.Option(min=1, help="Fit the margin on the first N development records.")
    ] = None,
    harness: Annotated[
        str | None,
        typer.Option(
            help="Run --task on an installed evaluation harness instead (e.g. lm_eval;"
            " its own parameters as --param, e.g. include_path=DIR)."
        ),
    ] = None,
) -> None:
    """Evaluate MODEL (plus an adapter) on a task's real data, or on a template's rule, or
    on an evaluation harness's task (--harness)."""
    from cookbook.engine.evaluation import evaluate_task, evaluate_template
    from cookbook.engine.models import model_problem

    params = dict(parse_params(param))
    if harness is not None:
        unused = {"--data": data, "--template": template, "--split": split,
                  "--max-new-tokens": max_new_tokens, "--output": output,
                  "--chat-template": chat_template, "--threshold": threshold,
                  "--calibrate-split": calibrate_split, "--calibrate-data": calibrate_data,
                  "--calibrate-limit": calibrate_limit}  # fmt: skip
        for option, value in unused.items():
            if value is not None:
                raise CookbookError(f"{option} does not apply to --harness (give --param)")
        _harness(harness, task, model, adapter, params, limit, batch_size, as_json)
        return
    if (task is None) == (template is None):
        raise CookbookError("give either --task TASK --data PATH or --template TEMPLATE")
    problem = model_problem(model)  # at once: no network retries, nothing read or loaded
    if problem is not None:
        raise CookbookError(problem)
    if task is not None:
        if data is None:
            raise CookbookError(f"--task {task}: give the data with --data PATH")
        dev = _calibration(data, split, calibrate_data, calibrate_split, calibrate_limit)
        result = evaluate_task(
            task,
            data,
            model,
            adapter,
            split=split,
            limit=limit,
            params=params,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            generations_path=output,
            progress=progress,
            chat_template=_chat_setting(chat_template),
            threshold=threshold,
            dev=dev,
        )
    else:
        for option, value in (("--data", data), ("--split", split), ("--limit", limit)):
            if value is not None:
                raise CookbookError(f"{option} applies to --task, not --template (use -n)")
        if max_new_tokens is not None:
            raise CookbookError("--max-new-tokens applies to --task, not --template")
        for option, value in (
            ("--chat-template", chat_template),
            ("--threshold", threshold),
            ("--calibrate-split", calibrate_split),
            ("--calibrate-data", calibrate_data),
            ("--calibrate-limit", calibrate_limit),
        ):
            if value is not None:
                raise CookbookError(f"{option} applies to --task, not --template")
        result = evaluate_template(
            template,
            model,
            adapter,
            params=params,
            n=n,
            seed=seed,
            token_space=tokens,
            batch_size=batch_size,
            progress=progress,
            generations_path=output,
        )
    if as_json:
        typer.echo(json.dumps(result))
    else:
        show_result(result, console())
        if output is not None:
            console(stderr=True).print(f"wrote generations to {safe(output)}")


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)


def _harness(
    name: str,
    task: str | None,
    model: str,
    adapter: str | None,
    params: dict[str, Any],
    limit: int | None,
    batch_size: int,
    as_json: bool,
) -> None:
    """``--harness NAME``: the harness step kind run on the model, its rows printed."""
    from cookbook.cli.harness import harness_kind, run_harness_kind, show_harness_results
    from cookbook.engine.models import model_problem

    harness_kind(name)  # an unknown harness first: the error names the installed ones
    tasks = [t.strip() for t in (task or "").split(",") if t.strip()]
    if not tasks:
        raise CookbookError(f"--harness {name}: name its task with --task NAME")
    problem = model_problem(model)
    if problem is not None:
        raise CookbookError(problem)
    err = console(stderr=True)
    rows = run_harness_kind(
        name,
        tasks,
        model,
        adapter,
        params=params,
        limit=limit,
        batch_size=batch_size,
        log=lambda line: err.print(safe(line)),
    )
    if as_json:
        typer.echo(json.dumps(rows, default=str))
    else:
        show_harness_results(name, rows, model, adapter, console())


def _calibration(
    data: str, split: str | None, path: str | None, dev_split: str | None, limit: int | None
) -> DevData | None:
    """The development data ``--calibrate-*`` name, never the evaluated records themselves."""
    if path is None and dev_split is None:
        if limit is not None:
            raise CookbookError("--calibrate-limit needs --calibrate-split or --calibrate-data")
        return None
    if (path or data) == data and dev_split == split:
        raise CookbookError(
            "--calibrate-split/--calibrate-data name the evaluated records themselves;"
            " fit the threshold on other data (e.g. --calibrate-split valid)"
        )
    return DevData(path or data, dev_split, limit=limit)


def _chat_setting(value: str | None) -> bool | str | None:
    """``--chat-template`` as the evaluation takes it: True, False, "auto" or None."""
    if value is None:
        return None
    settings = {"true": True, "false": False, "auto": "auto"}
    if value.lower() not in settings:
        raise CookbookError(f"--chat-template must be true, false or auto, not {value!r}")
    return settings[value.lower()]
