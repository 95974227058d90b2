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
    manifest = runner.run(pipeline, force=force, console=err)
    for table in results_tables(manifest):
        console().print(table)
    err.print(f"[green]done[/]: {safe(pipeline.output_dir)} (card: README.md)")


def results_tables(manifest: dict) -> list[Table]:
    """One table per step that evaluated models: each evaluation's value for every model and,
    with two models or more, the last one's difference from the first (the base model)."""
    tables = []
    for step in manifest["steps"]:
        for output in step["outputs"].values():
            if output.get("type") != "results" or not output.get("rows"):
                continue
            rows = output["rows"]
            labels = list(dict.fromkeys(str(r["model"]) for r in rows))
            table = Table(title=plain(f"results of step {step['name']}"))
            table.add_column("evaluation")
            table.add_column("metric")
            for label in labels:
                table.add_column(plain(label), justify="right")
            if len(labels) > 1:
                table.add_column(plain(f"{labels[-1]} - {labels[0]}"), justify="right")
            by_key: dict[tuple, dict[str, float | None]] = {}
            for row in rows:
                key = (str(row["name"]), str(row["kind"]), str(row["metric"]))
                by_key.setdefault(key, {})[str(row["model"])] = row.get("value")
            for (name, kind, metric), values in by_key.items():
                shown = [_number(values.get(label)) for label in labels]
                cells = [plain(f"{name} ({kind})"), plain(metric), *shown]
                if len(labels) > 1:
                    first, last = values.get(labels[0]), values.get(labels[-1])
                    both = first is not None and last is not None
                    cells.append(f"{last - first:+.2f}" if both else "-")
                table.add_row(*cells)
            tables.append(table)
    return tables


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)
    app.command("plan")(plan)
    app.command("schema")(schema)
    app.command("run")(run)
