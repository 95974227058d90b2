"""``cookbook validate``, ``cookbook schema`` and ``cookbook run``: pipeline files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cookbook.pipeline.config import assembled_schema, load_pipeline, parse_sets
from cookbook.registry import get_registry

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a key: KEY.PATH=VALUE, e.g. train.max_steps=10 (repeatable)."
    ),
]


def validate(
    file: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    set_: SetOption = None,
) -> None:
    """Check a pipeline file and report every error at once, each with its line and path."""
    pipeline = load_pipeline(file, parse_sets(set_))
    Console(stderr=True).print(f"[green]ok[/] {file}: {pipeline.config['name']}")


def schema() -> None:
    """Print the pipeline JSON Schema assembled with every installed component's parameters."""
    typer.echo(json.dumps(assembled_schema(get_registry()), indent=2))


def run(
    file: Annotated[Path, typer.Argument(help="Pipeline YAML file.")],
    set_: SetOption = None,
    force: Annotated[bool, typer.Option("--force", help="Re-run every stage.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan only.")] = False,
) -> None:
    """Run a pipeline: score, mix, generate, train, eval, report; cached and resumable."""
    from cookbook.pipeline import runner

    pipeline = load_pipeline(file, parse_sets(set_))
    console = Console(stderr=True)
    if dry_run:
        table = Table(title=f"{pipeline.config['name']} -> {pipeline.output_dir}")
        for column in ("stage", "hash", "status"):
            table.add_column(column)
        for name, digest, cached in runner.plan(pipeline):
            table.add_row(name, digest, "cached" if cached else "to run")
        console.print(table)
        return
    runner.run(pipeline, force=force, console=console)
    console.print(f"[green]done[/]: {pipeline.output_dir} (card: README.md)")


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("schema")(schema)
    app.command("run")(run)
