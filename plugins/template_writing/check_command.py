"""``cookbook check-template PATH``: the sandboxed check of a written template, its report
printed, a non-zero exit when it refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

#: The exit status when the check refuses the template (bad arguments exit with 1).
REFUSED = 2


def check_template_command(
    path: Annotated[
        Path, typer.Argument(help="A template module (.py), plugin package folder or spec file.")
    ],
    task: Annotated[
        str | None,
        typer.Option("--task", help="A task type (squad, ...): report its records' alignment."),
    ] = None,
    task_path: Annotated[
        str | None, typer.Option("--task-path", help="The task's data file or folder.")
    ] = None,
    split: Annotated[
        str | None, typer.Option("--split", help="Which split of the task's data to read.")
    ] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="A task parameter KEY=VALUE (repeatable)."),
    ] = None,
    template_param: Annotated[
        list[str] | None,
        typer.Option(
            "--template-param", "-t", help="A template parameter KEY=VALUE (default: defaults)."
        ),
    ] = None,
    samples: Annotated[
        int, typer.Option(min=1, help="Samples made and scored (at least a few hundred).")
    ] = 300,
    time_limit: Annotated[
        float, typer.Option(min=0.1, help="Seconds before the sandbox stops the check.")
    ] = 60.0,
    memory_limit: Annotated[
        int, typer.Option(min=1, help="MiB the candidate may use beyond the checker's own.")
    ] = 1024,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check a written template in a sandbox (no network, no writes outside a temporary folder,
    no subprocesses, time and memory limits): its contract, determinism, its own scorer and,
    with --task and --task-path, the alignment of that task's records. Exits 2 when refused."""
    from cookbook import parse_assignments
    from cookbook.engine import check_template

    report = check_template(
        path,
        task=task,
        task_path=task_path,
        task_params=dict(parse_assignments(param, "--param")),
        task_split=split,
        params=dict(parse_assignments(template_param, "--template-param")),
        samples=samples,
        time_limit=time_limit,
        memory_limit=memory_limit << 20,
    )
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=2))
    else:
        typer.echo(report.text())
    if not report.accepted:
        raise typer.Exit(REFUSED)


def register(cli: typer.Typer) -> None:
    """Add ``check-template`` to the ``cookbook`` CLI."""
    cli.command("check-template")(check_template_command)
