"""``cookbook generate``: N samples of one or more templates streamed to disk."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any

import typer

from cookbook.cli.options import (
    EngineOption,
    RayAddressOption,
    ShardSizeOption,
    check_engine,
    parse_params,
)
from cookbook.cli.output import console, safe
from cookbook.contract.errors import CookbookError
from cookbook.contract.params import MAX_INTEGER
from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE
from cookbook.engine.generation import FORMATS, Job, default_workers, generate, split_evenly
from cookbook.engine.progress import progress_bar
from cookbook.registry import get_registry


def build_jobs(templates: list[str], total: int, raw_params: list[tuple[str, Any]]) -> list[Job]:
    """Jobs splitting ``total`` evenly; params are ``TEMPLATE.key`` (``key`` with one template)."""
    registry = get_registry()
    if len(set(templates)) != len(templates):
        raise CookbookError("each template may be named once")
    by_template: dict[str, dict[str, Any]] = defaultdict(dict)
    for key, value in raw_params:
        name, dot, field = key.rpartition(".")
        if not dot:
            if len(templates) != 1:
                raise CookbookError(f"--param {key}: name the template, as TEMPLATE.{key}")
            name, field = templates[0], key
        if name not in templates:
            raise CookbookError(f"--param {key}: template {name!r} is not being generated")
        by_template[name][field] = value
    return [
        Job(name, count, registry.get("templates", name).resolve(by_template[name]))
        for name, count in zip(templates, split_evenly(total, len(templates)), strict=True)
    ]


def generate_command(
    templates: Annotated[
        list[str], typer.Argument(help="Template names (plugin:name; a .yaml/.json spec file).")
    ],
    n: Annotated[
        int, typer.Option("-n", "--n", min=1, max=MAX_INTEGER, help="Samples in all, split evenly.")
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Output file.")],
    seed: Annotated[int, typer.Option(min=0, max=MAX_INTEGER, help="Random seed.")] = 0,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="TEMPLATE.key=value (repeatable).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, max=1024, help="Processes (default: all cores).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "jsonl",
    tokens: Annotated[
        str, typer.Option(help="Token space: pseudowords, tokenizer:MODEL, or a plugin's.")
    ] = DEFAULT_TOKEN_SPACE,
    engine: EngineOption = "local",
    address: RayAddressOption = None,
    shard_size: ShardSizeOption = 131_072,
    keep_shards: Annotated[
        bool,
        typer.Option(
            help="--engine ray: OUTPUT is a folder of shards (train-NNNNN-of-MMMMM in --format,"
            " with manifest.json), kept as they are: no join, no second write."
        ),
    ] = False,
) -> None:
    """Generate N samples of TEMPLATES to a JSONL or Parquet file, identical for any --workers
    and for either engine."""
    jobs = build_jobs(templates, n, parse_params(param))
    check_engine(engine)
    if keep_shards and engine != "ray":
        raise CookbookError("--keep-shards applies to --engine ray only")
    with progress_bar("generating", total=n) as advance:
        if engine == "ray":
            from cookbook.engine.ray_generation import generate_on_ray

            written = generate_on_ray(
                jobs, seed, output, token_space=tokens, fmt=fmt, address=address,
                shard_size=shard_size, num_cpus=workers, on_progress=advance,
                keep_shards=keep_shards,
            )  # fmt: skip
        else:
            written = generate(
                jobs, seed, output, token_space=tokens, workers=workers or default_workers(),
                fmt=fmt, on_progress=advance,
            )  # fmt: skip
    console(stderr=True).print(f"wrote {written} samples to {safe(output)}")


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
