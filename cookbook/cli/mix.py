"""``cookbook mix``: learn template weights from a score CSV, or check the linear mixing
assumption against measured scores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cookbook.cli.options import ParamOption, help_listing, parse_params
from cookbook.cli.output import console, plain, safe
from cookbook.contract.errors import CookbookError

if TYPE_CHECKING:
    from cookbook.engine.mixing import LinearityReport


def _show_mixture(document: dict[str, Any], console: Console) -> None:
    learned, uniform = document["predicted"], document["uniform_predicted"]
    table = Table(title="Predicted task scores", caption="under the linear mixing assumption")
    for column in ("task", "learned", "uniform", "difference"):
        table.add_column(column, justify="left" if column == "task" else "right")
    for task in learned:
        table.add_row(
            plain(task),
            f"{learned[task]:.4f}",
            f"{uniform[task]:.4f}",
            f"{learned[task] - uniform[task]:+.4f}",
        )
    table.add_section()
    for label, summary in (("average", _mean), ("worst task", min)):
        a, b = summary(learned.values()), summary(uniform.values())
        table.add_row(label, f"{a:.4f}", f"{b:.4f}", f"{a - b:+.4f}", style="bold")
    console.print(table)

    weights, counts = document["weights"], document.get("counts")
    shown = sorted((t for t in weights if weights[t] > 0), key=lambda t: -weights[t])
    table = Table(title=plain(f"Weights ({document['mixer']} mixer)"))
    table.add_column("template")
    table.add_column("weight", justify="right")
    if counts is not None:
        table.add_column("samples", justify="right")
    for name in shown:
        row = [plain(name), f"{weights[name]:.4f}"]
        table.add_row(*row, *([str(counts[name])] if counts is not None else []))
    console.print(table)
    zero = len(weights) - len(shown)
    if zero:
        console.print(f"{zero} of {len(weights)} templates have weight 0")
    if document["objective"] is not None:
        name = document.get("objective_name") or "objective"
        console.print(plain(f"objective ({name}): {document['objective']:.4f}"))


def _mean(values: Any) -> float:
    values = list(values)
    return sum(values) / len(values)


def _show_linearity(report: LinearityReport, console: Console) -> None:
    table = Table(title="Linear mixing check: measured 50/50 mixture vs average of the two")
    for column in ("pair", "task", "a alone", "b alone", "average", "a+b measured", "deviation"):
        table.add_column(column, justify="left" if column in ("pair", "task") else "right")
    for row in report.rows:
        table.add_row(
            plain("+".join(row.pair)),
            plain(row.task),
            *(f"{v:.4f}" for v in (row.score_a, row.score_b, row.average, row.measured)),
            f"{row.deviation:.4f}",
        )
    console.print(table)
    console.print(
        f"deviation over {len(report.rows)} pair-task cells: "
        f"mean {report.mean:.4f}, median {report.median:.4f}"
    )


def mix_command(
    scores: Annotated[
        Path | None, typer.Option(help="Score CSV: header task,<template>,...; one row per task.")
    ] = None,
    mixer: Annotated[
        str, typer.Option(help="Mixer: cvxpy, uniform, fixed, or a plugin's (parameters: below).")
    ] = "cvxpy",
    param: ParamOption = None,
    total: Annotated[
        int | None, typer.Option(min=0, help="Also give per-template sample counts summing to N.")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Write the mixture file here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    check_linearity: Annotated[
        bool,
        typer.Option(
            "--check-linearity", help="Compare measured 50/50 pair mixtures with single templates."
        ),
    ] = False,
    measurements: Annotated[
        Path | None,
        typer.Option(help="For --check-linearity: CSV mixture,task,score (mixture a or a+b)."),
    ] = None,
) -> None:
    """Learn mixture weights over templates from a tasks x templates score matrix."""
    from cookbook.engine import mixing

    out = console()
    if check_linearity:
        if measurements is None:
            raise CookbookError("--check-linearity needs --measurements FILE.csv")
        report = mixing.linearity_report(mixing.read_measurements_csv(measurements))
        if as_json:
            typer.echo(json.dumps(report.as_json(), indent=2))
        else:
            _show_linearity(report, out)
        return
    if scores is None:
        raise CookbookError("give --scores FILE.csv (or --check-linearity --measurements FILE.csv)")
    given: dict[str, Any] = dict(parse_params(param))
    matrix = mixing.read_scores_csv(scores)
    document = mixing.learn_mixture(matrix, mixer, given, source="file", total=total)
    if output is not None:
        mixing.write_mixture(output, document)
    if as_json:
        typer.echo(json.dumps(document, indent=2))
    else:
        _show_mixture(document, out)
        if output is not None:
            console(stderr=True).print(f"wrote mixture to {safe(output)}")


def register(app: typer.Typer) -> None:
    app.command("mix", cls=help_listing("mixers", "mixer"))(mix_command)
