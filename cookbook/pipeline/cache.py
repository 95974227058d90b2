"""Cached, resumable steps: each step's outputs live under a content hash of what it reads.

A step works in ``steps/NAME-HASH.partial/`` and becomes ``steps/NAME-HASH/`` by one rename
after it wrote ``step.json``, so a killed run never leaves anything that looks finished, and a
step may resume from what its partial folder holds (a trainer's checkpoints).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookbook.contract.seeding import canonical_json
from cookbook.contract.steps import Artifact

STEP_FILE = "step.json"


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
    """Content hash of the Python source behind ``module`` (a plugin's entry point): every
    ``.py`` file of its package when it is one (a plugin's helpers included), else of its
    top-level package (whose siblings it may import), or its own file for a single-file
    module; "" when it has none. Step hashes include it, so editing a template's code re-runs
    the steps that use it."""
    try:
        spec = importlib.util.find_spec(module)
        if spec is None or not spec.submodule_search_locations:
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


@dataclass
class StepResult:
    """A finished step: its folder, hash, outputs and how long it took."""

    name: str
    kind: str
    hash: str
    folder: Path
    outputs: dict[str, Artifact]
    seconds: float
    cached: bool = False

    def output(self, name: str) -> Artifact:
        return self.outputs[name]


def content_hash(payload: Any) -> str:
    """A short hash of a JSON-able value (canonical JSON, sha256)."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()[:16]


def step_folder(root: Path, name: str, digest: str) -> Path:
    """Where step ``name`` with hash ``digest`` keeps its outputs in run folder ``root``."""
    return root / "steps" / f"{name}-{digest}"


def cached_step(root: Path, name: str, digest: str) -> StepResult | None:
    """The finished step in its folder, or None when it has not finished."""
    folder = step_folder(root, name, digest)
    record_file = folder / STEP_FILE
    if not record_file.exists():
        return None
    record = json.loads(record_file.read_text(encoding="utf-8"))
    outputs = {k: Artifact.from_json(v, folder) for k, v in record["outputs"].items()}
    return StepResult(name, record["kind"], digest, folder, outputs, record["seconds"], cached=True)


def run_step(
    root: Path,
    name: str,
    kind: str,
    digest: str,
    record: Mapping[str, Any],
    run: Callable[[Path], Mapping[str, Artifact]],
    force: bool = False,
) -> StepResult:
    """Run ``run(partial folder)`` unless the step's folder is complete; ``record`` (what the
    hash was made of) is written beside the outputs in ``step.json``."""
    final = step_folder(root, name, digest)
    partial = final.with_name(final.name + ".partial")
    if force:
        for folder in (final, partial):
            if folder.exists():
                shutil.rmtree(folder)
    done = cached_step(root, name, digest)
    if done is not None:
        return done
    partial.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    outputs = dict(run(partial))
    seconds = round(time.perf_counter() - start, 3)
    document = {
        "step": name,
        "kind": kind,
        "hash": digest,
        **record,
        "outputs": {k: v.to_json(partial) for k, v in outputs.items()},
        "seconds": seconds,
    }
    write_json_atomic(partial / STEP_FILE, document)
    os.replace(partial, final)
    outputs = {k: Artifact.from_json(v, final) for k, v in document["outputs"].items()}
    return StepResult(name, kind, digest, final, outputs, seconds)
