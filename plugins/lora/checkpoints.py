"""Training checkpoints: adapter, optimizer, scheduler, RNG state and step, written atomically.

A checkpoint is the folder ``checkpoints/step-NNNNNNNN`` in the output folder. It is staged
under a hidden name and renamed into place once complete, so a folder with that name is
always whole; a crash leaves at most a hidden staging folder, removed on the next write.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
ADAPTER_FILE = "adapter_model.safetensors"


def checkpoint_dir(output_dir: Path, step: int) -> Path:
    return output_dir / CHECKPOINTS / f"step-{step:08d}"


def completed_checkpoints(output_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first."""
    root = output_dir / CHECKPOINTS
    if not root.is_dir():
        return []
    found = [p for p in root.glob("step-*") if (p / STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def latest_checkpoint(output_dir: Path) -> Path | None:
    found = completed_checkpoints(output_dir)
    return found[-1] if found else None


def rng_state() -> dict[str, Any]:
    """Every random generator training touches (dropout draws from torch's)."""
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [name, keys.tolist(), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def write_checkpoint(
    output_dir: Path,
    step: int,
    model: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    rank: int = 0,
    barrier: Callable[[], None] = lambda: None,
    keep: int = 2,
) -> Path:
    """Write the checkpoint of ``step`` (every rank calls this; rank 0 writes all but its RNG)."""
    final = checkpoint_dir(output_dir, step)
    staging = final.with_name(f".staging-{final.name}")
    if rank == 0:
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
    barrier()
    torch.save(rng_state(), staging / f"rng_state_{rank}.pt")
    barrier()
    if rank == 0:
        model.save_pretrained(staging)
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
        torch.save(scheduler.state_dict(), staging / "scheduler.pt")
        (staging / STATE_FILE).write_text(json.dumps({"step": step, **state}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        staging.rename(final)
        for old in completed_checkpoints(output_dir)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    barrier()
    return final


def read_state(path: Path) -> dict[str, Any]:
    """The ``trainer_state.json`` of a checkpoint."""
    return json.loads((path / STATE_FILE).read_text())


def restore_checkpoint(
    path: Path, model: Any, optimizer: torch.optim.Optimizer, scheduler: Any, rank: int = 0
) -> None:
    """Load adapter weights, optimizer, scheduler and this rank's RNG state from ``path``."""
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    device = next(p.device for p in model.parameters() if p.requires_grad)
    weights = load_file(path / ADAPTER_FILE, device=str(device))
    result = set_peft_model_state_dict(model, weights)
    unexpected = getattr(result, "unexpected_keys", None)
    if unexpected:
        raise RuntimeError(f"{path}: adapter weights do not fit the model: {unexpected[:3]}")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    rng_file = path / f"rng_state_{rank}.pt"
    if rng_file.exists():
        set_rng_state(torch.load(rng_file, weights_only=True))
