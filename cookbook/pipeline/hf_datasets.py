"""``cookbook.load_dataset``: template samples as a Hugging Face ``Dataset`` or a streamed
``IterableDataset``, for people who live in notebooks."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.generation import Job, iter_records, split_evenly
from cookbook.engine.mixing import largest_remainder
from cookbook.registry import get_registry

Templates = str | Path | Sequence[str] | Mapping[str, Mapping[str, Any] | None]


def load_dataset(
    templates: Templates,
    n: int,
    *,
    seed: int | None = None,
    weights: Mapping[str, float] | None = None,
    token_space: str | None = None,
    streaming: bool = False,
) -> Any:
    """``n`` samples of ``templates`` (a name, a list of names, ``{name: params}``, or a
    pipeline YAML file, whose templates, parameters, seed and token space are used), split
    evenly or by ``weights``: the same records ``cookbook generate`` writes. With
    ``streaming``, an ``IterableDataset`` that makes each sample when it is read."""
    try:
        import datasets
    except ImportError:
        raise CookbookError(
            "cookbook.load_dataset needs Hugging Face datasets: pip install 'cookbook-llm[hf]'"
        ) from None
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise CookbookError(f"load_dataset: n must be a whole number of at least 1, not {n!r}")
    uses, defaults = _templates(templates)
    seed = defaults.get("seed", 0) if seed is None else seed
    token_space = token_space or defaults.get("token_space", "pseudowords")
    names = [name for name, _ in uses]
    if weights is None:
        counts = split_evenly(n, len(names))
    else:
        unknown = [k for k in weights if k not in names]
        if unknown:
            raise CookbookError(f"load_dataset: weights name {unknown[0]!r}, not a template given")
        by_name = largest_remainder({k: float(weights.get(k, 0.0)) for k in names}, n)
        counts = [by_name[k] for k in names]
    registry = get_registry()
    resolved = [(name, registry.get("templates", name).resolve(params)) for name, params in uses]
    jobs = [
        Job(name, count, params) for (name, params), count in zip(resolved, counts, strict=True)
    ]
    for job in jobs:  # a template that cannot make a sample fails here, not when read
        next(iter_records([Job(job.name, 1, job.params)], seed, token_space=token_space))
    # a tuple: datasets would shard a list in gen_kwargs, and the order is the file's
    kwargs = {"jobs": tuple(jobs), "seed": seed, "token_space": token_space}
    features = sample_features()
    if streaming:
        return datasets.IterableDataset.from_generator(
            _records, gen_kwargs=kwargs, features=features
        )
    return datasets.Dataset.from_list(list(_records(**kwargs)), features=features)


def sample_features() -> Any:
    """The features of a sample: ``slots`` as ``Json`` (each template has its own slots)."""
    from datasets import Features, Json, Value

    return Features(
        {
            "id": Value("string"),
            "template": Value("string"),
            "seed": Value("int64"),
            "index": Value("int64"),
            "slots": Json(),
            "prompt": Value("string"),
            "completion": Value("string"),
        }
    )


def _records(jobs: Sequence[Job], seed: int, token_space: str) -> Iterator[dict[str, Any]]:
    yield from iter_records(jobs, seed, token_space=token_space)


def _templates(templates: Templates) -> tuple[list[tuple[str, dict]], dict[str, Any]]:
    """(name, parameters) of each template, and the pipeline's seed and token space."""
    if isinstance(templates, Path) or (
        isinstance(templates, str) and templates.endswith((".yaml", ".yml"))
    ):
        from cookbook.pipeline.config import load_pipeline

        pipeline = load_pipeline(Path(templates))
        context = pipeline.context
        if not context.templates:
            raise CookbookError(f"{templates}: the pipeline lists no templates")
        uses = [(t.name, dict(t.params)) for t in context.templates]
        return uses, {"seed": context.seed, "token_space": context.token_space}
    if isinstance(templates, str):
        return [(templates, {})], {}
    if isinstance(templates, Mapping):
        return [(str(k), dict(v or {})) for k, v in templates.items()], {}
    names = list(templates)
    if not names:
        raise CookbookError("load_dataset: give at least one template")
    return [(str(name), {}) for name in names], {}
