"""``cookbook train``: fine-tune a model on a sample file with a trainer plugin (``lora``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cookbook.cli.options import parse_params
from cookbook.contract.errors import CookbookError
from cookbook.registry import get_registry

DEFAULT_MODEL = "smollm2-135m-instruct"


def default_output(model: str) -> Path:
    """``runs/lora-<model>`` for a model name, alias or folder."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model.rstrip("/")).name).strip("-.")
    return Path("runs") / f"lora-{slug or 'model'}"


def train_command(
    data: Annotated[Path, typer.Option("--data", help="JSONL (or Parquet) file of samples.")],
    model: Annotated[
        str, typer.Option("--model", help="Model alias, local folder or hub name.")
    ] = DEFAULT_MODEL,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Output folder (default runs/lora-MODEL).")
    ] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="Optimizer steps.")] = None,
    epochs: Annotated[
        float | None, typer.Option(min=0.0, help="Passes over the data (without --max-steps).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Samples per micro-batch.")] = None,
    lora_r: Annotated[int | None, typer.Option(min=1, help="LoRA rank.")] = None,
    learning_rate: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from the output folder's last checkpoint.")
    ] = False,
    merge: Annotated[
        bool, typer.Option("--merge", help="Also save the merged model under OUTPUT/merged.")
    ] = False,
    trainer: Annotated[str, typer.Option(help="Trainer plugin.")] = "lora",
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Any trainer parameter KEY=VALUE (repeatable)."),
    ] = None,
) -> None:
    """Fine-tune MODEL on the samples in DATA; writes the adapter and train_metrics.json."""
    if not data.is_file():
        raise CookbookError(f"{data}: no such file")
    component = get_registry().get("trainers", trainer)
    params: dict[str, Any] = dict(parse_params(param))
    options = {
        "max_steps": max_steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "lora_r": lora_r,
        "learning_rate": learning_rate,
        "seed": seed,
    }
    params.update({key: value for key, value in options.items() if value is not None})
    if resume:
        params["resume"] = True
    if merge:
        params["merge"] = True
    output = output or default_output(model)
    metrics = component.train(str(data), model, str(output), **params)
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
    app.command("train")(train_command)
