"""Cached, resumable stages: each stage's outputs live under a content hash of its inputs.

A stage works in ``stages/NAME-HASH.partial/`` and becomes ``stages/NAME-HASH/`` by one rename
after it wrote ``stage.json``, so a killed run never leaves anything that looks finished, and
a stage may resume from what its partial folder holds (the trainer's checkpoints).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cookbook.contract.seeding import canonical_json

STAGE_FILE = "stage.json"


@dataclass
class Stage:
    """A named step: ``run(workdir, upstream) -> summary`` over JSON-able ``inputs``."""

    name: str
    inputs: dict[str, Any]
    run: Callable[[Path, dict[str, StageResult]], dict[str, Any]]
    after: list[str] = field(default_factory=list)


@dataclass
class StageResult:
    """A finished stage: its folder, hash and summary (from ``stage.json``)."""

    name: str
    hash: str
    folder: Path
    summary: dict[str, Any]
    seconds: float
    cached: bool = False


def stage_hash(stage: Stage, upstream: dict[str, StageResult]) -> str:
    """Hash of the stage's inputs and the hashes of the stages it reads."""
    payload = {
        "stage": stage.name,
        "inputs": stage.inputs,
        "upstream": {name: upstream[name].hash for name in sorted(stage.after)},
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:16]


def file_digest(path: str | Path, pattern: str = "*") -> str:
    """Content hash of a file, or of every file under a folder whose name matches ``pattern``
    (names included)."""
    path = Path(path)
    digest = hashlib.sha256()
    targets = sorted(p for p in path.rglob(pattern) if p.is_file()) if path.is_dir() else [path]
    for target in targets:
        digest.update(str(target.relative_to(path) if path.is_dir() else target.name).encode())
        with target.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def source_digest(module: str) -> str:
    """Content hash of the Python source behind ``module``: every ``.py`` file of its top-level
    package (a plugin's helpers included), or its own file for a single-file module; "" when
    it has none. Stage hashes include it, so editing a template's code re-runs its stages."""
    try:
        spec = importlib.util.find_spec(module.partition(".")[0])
    except (ImportError, ValueError):
        return ""
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return ""
    origin = Path(spec.origin)
    if spec.submodule_search_locations:  # a package: all of its files
        return file_digest(origin.parent, "*.py")
    return file_digest(origin)


def write_json_atomic(path: Path, value: Any) -> bool:
    """Write ``value`` as JSON through a temporary file; False when the file already held it."""
    text = json.dumps(value, indent=2, sort_keys=False) + "\n"
    return write_text_atomic(path, text)


def write_text_atomic(path: Path, text: str) -> bool:
    """Write ``text`` through a temporary file and a rename; skip when unchanged."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


def run_stage(
    stage: Stage, root: Path, upstream: dict[str, StageResult], force: bool = False
) -> StageResult:
    """Run ``stage`` unless its folder is complete; returns what it produced."""
    digest = stage_hash(stage, upstream)
    final = root / "stages" / f"{stage.name}-{digest}"
    if force and final.exists():
        shutil.rmtree(final)
    if (final / STAGE_FILE).exists():
        record = json.loads((final / STAGE_FILE).read_text())
        return StageResult(
            stage.name, digest, final, record["summary"], record["seconds"], cached=True
        )
    partial = final.with_name(final.name + ".partial")
    if force and partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    summary = stage.run(partial, upstream)
    seconds = round(time.perf_counter() - start, 3)
    record = {
        "stage": stage.name,
        "hash": digest,
        "inputs": stage.inputs,
        "upstream": {n: upstream[n].hash for n in sorted(stage.after)},
        "summary": summary,
        "seconds": seconds,
    }
    write_json_atomic(partial / STAGE_FILE, record)
    os.replace(partial, final)
    return StageResult(stage.name, digest, final, summary, seconds)
