"""``cookbook export``: a run's samples as a folder Hugging Face ``datasets`` loads as it is."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cookbook.cli.output import console, safe
from cookbook.engine.formats import EXPORT_FORMATS
from cookbook.engine.progress import progress_bar
from cookbook.pipeline.export import SHARD_ROWS, export


def export_command(
    source: Annotated[
        Path, typer.Argument(help="A run folder (its samples) or a sample file (JSONL/Parquet).")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="A new folder to write.")],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            help=(
                "hf: Parquet of the whole records; messages, prompt-completion: JSONL as trl"
                " reads; alpaca: instruction/input/output JSONL."
            ),
        ),
    ] = "hf",
    shard_rows: Annotated[int, typer.Option(min=1, help="Rows per data shard.")] = SHARD_ROWS,
) -> None:
    """Export samples as a dataset folder: data/ shards and a card whose YAML header lets
    datasets.load_dataset(FOLDER) read it; the run's card (templates, parameters, seeds,
    weights) comes along."""
    from cookbook.contract.errors import CookbookError

    if fmt not in EXPORT_FORMATS:
        raise CookbookError(f"--format {fmt}: choose one of {', '.join(EXPORT_FORMATS)}")
    with progress_bar("exporting", total=None) as advance:
        rows = export(source, output, fmt, shard_rows=shard_rows, on_progress=advance)
    console(stderr=True).print(f"wrote {rows} rows ({fmt}) to {safe(output)}")


def register(app: typer.Typer) -> None:
    app.command("export")(export_command)
