"""Training through a registered trainer: the one path the CLI and every pipeline step take."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookbook.contract.params import Params
from cookbook.registry import get_registry


def trainer_params(
    trainer: str,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    resume: bool | str | None = None,
) -> dict[str, Any]:
    """The trainer's parameters: ``params`` over its defaults, validated. ``seed`` fills the
    trainer's ``seed`` parameter unless ``params`` set it, and ``resume`` its ``resume``, when
    the trainer declares them."""
    component = get_registry().get("trainers", trainer)
    declared = Params.of_component(component)
    values = dict(params or {})
    if seed is not None and "seed" in declared:
        values.setdefault("seed", seed)
    if resume is not None and "resume" in declared:
        values["resume"] = resume
    return declared.resolve(f"trainer {trainer!r}", values)


def train_model(
    trainer: str,
    data: str | Path,
    model: str,
    output_dir: str | Path,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int | None = None,
    resume: bool | str | None = None,
) -> dict[str, Any]:
    """Train ``model`` on ``data`` into ``output_dir`` with the registered ``trainer``; returns
    its metrics. Parameters as ``trainer_params`` makes them."""
    resolved = trainer_params(trainer, params, seed=seed, resume=resume)
    component = get_registry().get("trainers", trainer)
    return component.train(str(data), model, str(output_dir), **resolved)
