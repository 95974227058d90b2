"""``cookbook train``: fine-tune a model on a sample file with a trainer plugin (``lora``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cookbook.cli.options import ParamOption, help_listing, parse_params
from cookbook.contract.errors import CookbookError
from cookbook.engine.models import DEFAULT_MODEL


def default_output(model: str, trainer: str = "lora") -> Path:
    """``runs/<trainer>-<model>`` for a model name, alias or folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model.rstrip("/")).name).strip("-.")
    return Path("runs") / f"{trainer.rpartition(':')[2]}-{slug or 'model'}"


def train_command(
    data: Annotated[
        Path,
        typer.Option(
            "--data",
            help=(
                "Samples (JSONL or Parquet: Cookbook's, prompt/completion, messages or"
                " Alpaca rows), or a Hub-style dataset folder."
            ),
        ),
    ],
    model: Annotated[
        str, typer.Option("--model", help="Model alias, local folder or hub name.")
    ] = DEFAULT_MODEL,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Output folder (default runs/TRAINER-MODEL)."),
    ] = None,
    trainer: Annotated[str, typer.Option(help="Trainer plugin (its parameters: below).")] = "lora",
    param: ParamOption = None,
) -> None:
    """Fine-tune MODEL on the samples in DATA with a trainer plugin.

    The trainer's parameters are given with -p KEY=VALUE (e.g. -p max_steps=60
    -p resume=true); they are listed below."""
    from cookbook.engine.models import model_problem
    from cookbook.engine.training import train_model

    if not data.is_file() and not data.is_dir():
        what = "not a regular file or a folder" if data.exists() else "no such file"
        raise CookbookError(f"{data}: {what}")
    problem = model_problem(model)  # at once: no network retries, nothing read or loaded
    if problem is not None:
        raise CookbookError(problem)
    output = output or default_output(model, trainer)
    metrics = train_model(trainer, data, model, output, dict(parse_params(param)))
    if os.environ.get("RANK", "0") == "0":
        _summary(metrics, output)


def _summary(metrics: dict[str, Any], output: Path) -> None:
    console = Console(stderr=True)
    loss = metrics.get("final_loss")
    if loss is None and metrics.get("loss"):
        loss = metrics["loss"][-1]
    parts = [f"step {metrics.get('step')}"]
    if loss is not None:
        parts.append(f"loss {loss:.4f}")
    if metrics.get("tokens_per_second"):
        parts.append(f"{metrics['tokens_per_second']:,.0f} tokens/s")
    console.print(", ".join(parts) + f"; saved to {output}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train", cls=help_listing("trainers", "trainer"))(train_command)
