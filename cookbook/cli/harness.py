"""``cookbook eval --harness KIND --task NAME``: a registered harness step kind (``lm_eval``,
or any plugin's) run on one model and adapter outside a pipeline, its results as a table."""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from cookbook.cli.output import plain
from cookbook.contract.errors import CookbookError
from cookbook.contract.steps import Model, PipelineContext, StepContext, StepKind
from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE
from cookbook.registry import get_registry

#: How the adapter's model is labelled in a harness's results.
TUNED = "tuned"


def harness_names() -> list[str]:
    """The installed step kinds marked ``harness``."""
    registry = get_registry()
    return [
        n for n in registry.names("steps") if getattr(registry.get("steps", n), "harness", False)
    ]


def harness_kind(name: str) -> StepKind:
    """The harness step kind called ``name``; the error names the installed ones."""
    names = harness_names()
    registry = get_registry()
    kind = registry.get("steps", name) if name in registry.names("steps") else None
    if kind is None or not getattr(kind, "harness", False):
        installed = ", ".join(names) if names else "none"
        hint = (
            " (lm_eval comes with lm-evaluation-harness: pip install 'cookbook-llm[eval]')"
            if "lm_eval" not in names
            else ""
        )
        raise CookbookError(
            f"--harness {name}: no evaluation harness of that name; installed harnesses:"
            f" {installed}{hint}"
        )
    return kind


def run_harness_kind(
    name: str,
    tasks: Sequence[str],
    model: str,
    adapter: str | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    limit: int | None = None,
    batch_size: int | None = None,
    log: Any = print,
) -> list[dict[str, Any]]:
    """The result rows of harness ``name`` on ``tasks`` for ``model`` (with ``adapter``,
    labelled ``tuned``; else the model alone, labelled ``base``). ``limit`` and
    ``batch_size`` go to the harness when it declares them; ``params`` are its own."""
    kind = harness_kind(name)
    given: dict[str, Any] = {"tasks": list(tasks), **(params or {})}
    for key, value in (("limit", limit), ("batch_size", batch_size)):
        if value is not None and key in kind.params:
            given[key] = value
    if adapter is not None and "base" in kind.params and "base" not in given:
        given["base"] = False
    unknown = [key for key in given if key not in kind.params and not kind.params.open]
    if unknown:
        known = ", ".join(kind.params.names)
        raise CookbookError(f"--harness {name}: no parameter {unknown[0]!r} (it takes {known})")
    for spec in kind.params:
        if spec.schema.get("format") == "path" and isinstance(given.get(spec.name), str):
            path = Path(given[spec.name]).expanduser().resolve()
            if not path.exists():
                raise CookbookError(f"--harness {name}: {spec.name}: {given[spec.name]} not found")
            given[spec.name] = str(path)
    values = kind.params.resolve(f"--harness {name}", given)
    models = [] if adapter is None else [_adapter_model(model, adapter)]
    with tempfile.TemporaryDirectory(prefix="cookbook-harness-") as folder:
        context = PipelineContext(
            name=f"eval --harness {name}",
            seed=0,
            model=model,
            token_space=DEFAULT_TOKEN_SPACE,
            templates=(),
            tasks=(),
            folder=Path.cwd(),
            run_folder=Path(folder),
        )
        if kind.check is not None:
            problems = kind.check(values, context, {"models": [TUNED] if models else []})
            if problems:
                raise CookbookError(
                    "\n".join(
                        f"--harness {name}: {'.'.join(map(str, p.path)) or '(parameters)'}:"
                        f" {p.message}"
                        for p in problems
                    )
                )
        ctx = StepContext(
            name=name,
            params=values,
            inputs={"models": models},
            pipeline=context,
            folder=Path(folder),
            sources={"models": [TUNED] if models else []},
            log=log,
        )
        outputs = kind.run(ctx, **values)
    results = outputs.get("results")
    return list(getattr(results, "rows", []) or [])


def _adapter_model(model: str, adapter: str) -> Model:
    """The adapter folder as a ``Model`` on ``model``, read as its trainer wrote it."""
    from cookbook.contract.components import ModelInfo

    folder = Path(adapter)
    if not folder.is_dir():
        raise CookbookError(f"--adapter {adapter}: not a folder")
    info = ModelInfo.load(folder)
    return Model(
        base=model,
        adapter=folder.resolve(),
        chat_template=info.chat_template if info is not None else None,
        trainer=info.trainer if info is not None else "",
    )


def show_harness_results(
    name: str, rows: Sequence[Mapping[str, Any]], model: str, adapter: str | None, console: Console
) -> None:
    """One table per harness task: each metric for each model (and the last model's
    difference from the first when there are two)."""
    labels = list(dict.fromkeys(str(r["model"]) for r in rows))
    subject = model + (f" + {adapter}" if adapter else "")
    by_task: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        metrics = by_task.setdefault(str(row["name"]), {})
        metrics.setdefault(str(row["metric"]), {})[str(row["model"])] = row.get("value")
    for task, metrics in by_task.items():
        table = Table(title=plain(f"{task} ({name}): {subject}"))
        table.add_column("measure")
        for label in labels:
            table.add_column(plain(label) if len(labels) > 1 else "value", justify="right")
        if len(labels) > 1:
            table.add_column(plain(f"{labels[-1]} - {labels[0]}"), justify="right")
        for metric, values in metrics.items():
            cells = [_number(values.get(label)) for label in labels]
            if len(labels) > 1:
                first, last = values.get(labels[0]), values.get(labels[-1])
                cells.append("-" if first is None or last is None else f"{last - first:+.4f}")
            table.add_row(plain(metric), *cells)
        console.print(table)


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"
