"""``cookbook validate``, ``plan``, ``schema`` and ``run``: pipeline files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cookbook.cli.output import console, plain, safe
from cookbook.pipeline.config import Pipeline, assembled_schema, load_pipeline, parse_sets
from cookbook.registry import get_registry

FileArgument = Annotated[Path, typer.Argument(help="Pipeline YAML file.")]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a key: KEY.PATH=VALUE, e.g. train.max_steps=10 (repeatable)."
    ),
]


def validate(file: FileArgument, set_: SetOption = None) -> None:
    """Check a pipeline file and report every error at once, each with its line and path."""
    pipeline = load_pipeline(file, parse_sets(set_))
    steps = ", ".join(
        f"{s.name} ({s.kind})" if s.name != s.kind else s.name for s in pipeline.steps
    )
    console(stderr=True).print(
        f"[green]ok[/] {safe(file)}: {safe(pipeline.name)}, steps: {safe(steps)}"
    )


def schema() -> None:
    """Print the pipeline JSON Schema with every installed step kind's and component's
    parameters."""
    typer.echo(json.dumps(assembled_schema(get_registry()), indent=2))


def show_plan(pipeline: Pipeline, console: Console) -> None:
    """A table of the steps in the order they run: kind, inputs, hash, cached or to run."""
    from cookbook.pipeline import runner

    table = Table(title=plain(f"{pipeline.name} -> {pipeline.output_dir}"))
    for column in ("step", "kind", "inputs", "hash", "status"):
        table.add_column(column)
    for row in runner.plan(pipeline):
        inputs = "; ".join(f"{k}: {', '.join(v)}" for k, v in row.inputs.items()) or "-"
        status = Text("cached", style="green") if row.cached else Text("to run")
        table.add_row(plain(row.name), plain(row.kind), plain(inputs), row.hash, status)
    console.print(table)


def plan(file: FileArgument, set_: SetOption = None) -> None:
    """Show the steps of a pipeline, what each reads, and which are cached."""
    show_plan(load_pipeline(file, parse_sets(set_)), console())


def run(
    file: FileArgument,
    set_: SetOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-run every step.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
) -> None:
    """Run a pipeline's steps, cached and resumable, and write the run's card."""
    from cookbook.pipeline import runner

    pipeline = load_pipeline(file, parse_sets(set_))
    err = console(stderr=True)
    if dry_run:
        show_plan(pipeline, err)
        return
    runner.run(pipeline, force=force, console=err)
    err.print(f"[green]done[/]: {safe(pipeline.output_dir)} (card: README.md)")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("plan")(plan)
    app.command("schema")(schema)
    app.command("run")(run)
