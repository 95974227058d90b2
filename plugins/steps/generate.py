"""The ``generate`` step: samples of the pipeline's templates, split by a mixture or evenly."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import cookbook.engine as engine
from cookbook import Artifact, Dataset, Input, Param, StepContext, StepProblem, step_kind


def _check(params: dict, pipeline: Any, inputs: dict) -> list[StepProblem]:
    names = [t.name for t in pipeline.templates]
    if not names:
        return [StepProblem(("templates",), "generation needs templates", top=True)]
    unknown = [n for n in params.get("templates") or [] if n not in names]
    return [
        StepProblem(("templates",), f"{n!r} is not a template of this pipeline") for n in unknown
    ]


def _card(name: str, outputs: dict, params: dict, pipeline: Any) -> str:
    data = outputs["data"]
    return f"Data: `{data.file.name}` ({data.samples} samples)."


@step_kind(
    inputs={"mixture": Input("mixture", optional=True, description="Weights over templates.")},
    outputs={"data": "dataset"},
    uses=("templates", "seed", "token_space", "engine"),
    check=_check,
    card=_card,
)
def generate(
    ctx: StepContext,
    *,
    samples: Annotated[
        int,
        Param(
            "Samples in all: split by the mixture when there is one, evenly otherwise.", minimum=1
        ),
    ],
    format: Annotated[Literal["jsonl", "parquet"], Param("File format.")] = "jsonl",
    workers: Annotated[
        int | None,
        # each is a process: a mistyped count must not start a million of them
        Param("Processes (default: all cores).", minimum=1, maximum=1024, cache=False),
    ] = None,
    templates: Annotated[
        list[str] | None, Param("Which of the pipeline's templates (default: all).")
    ] = None,
) -> dict[str, Artifact]:
    """Samples of the templates, the same bytes for any worker count."""
    uses = [t for t in ctx.pipeline.templates if templates is None or t.name in templates]
    names = [t.name for t in uses]
    mixture = ctx.inputs.get("mixture")
    if mixture is None:
        counts = engine.split_evenly(samples, len(names))
    elif (
        mixture.counts
        and set(mixture.counts) == set(names)
        and sum(mixture.counts.values()) == samples
    ):
        counts = [mixture.counts[n] for n in names]
    else:
        by_name = engine.largest_remainder({n: mixture.weights.get(n, 0.0) for n in names}, samples)
        counts = [by_name[n] for n in names]
    jobs = [engine.Job(t.name, n, t.params) for t, n in zip(uses, counts, strict=True)]
    path = ctx.folder / f"samples.{format}"
    execution = ctx.pipeline.execution
    keep_shards = execution.get("engine") == "ray" and bool(execution.get("keep_shards"))
    if keep_shards:  # a folder of shards is the dataset: no join, every byte written once
        path = ctx.folder / "samples"
    with engine.progress_bar("generate", total=samples) as advance:
        if execution.get("engine") == "ray":  # the same bytes, on Ray tasks over shards
            written = engine.generate_on_ray(
                jobs,
                ctx.pipeline.seed,
                path,
                token_space=ctx.pipeline.token_space,
                fmt=format,
                address=execution.get("address"),
                shard_size=execution.get("shard_size", 131_072),
                num_cpus=workers,
                on_progress=advance,
                keep_shards=keep_shards,
            )
        else:
            written = engine.generate(
                jobs,
                ctx.pipeline.seed,
                path,
                token_space=ctx.pipeline.token_space,
                workers=workers,
                fmt=format,
                on_progress=advance,
            )
    return {
        "data": Dataset(
            file=path,
            samples=written,
            counts=dict(zip(names, counts, strict=True)),
            format=format,
        )
    }
