"""Shard files and their manifest, shared by the Ray engines: a worker writes its shard whole
(through a rename) and returns its entry (file, rows, sha256); the driver records the entries
in ``manifest.json`` under a key naming the job, and a rerun reuses only the shards whose
file still has the recorded rows and hash. Also starting or joining Ray."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError

NEEDS = "--engine ray needs Ray: pip install 'cookbook-llm[ray]'"
MANIFEST = "manifest.json"


def import_ray() -> Any:
    """The ``ray`` module, or one clear error naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise CookbookError(NEEDS) from None
    return ray


def start_ray(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Connect to ``address`` or start a local Ray (workers see this process's import path);
    whether this call started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
    else:
        env = {"env_vars": {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}}
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                 runtime_env=env)  # fmt: skip
    return True


def fingerprint(payload: Any) -> str:
    """A short hash naming a job (what its shards were made from)."""
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def count_rows(path: Path, data: bytes) -> int:
    """Rows in a shard file: lines of JSONL, rows of Parquet (from its footer)."""
    if path.suffix == ".parquet":
        import io

        import pyarrow.parquet as pq

        return int(pq.ParquetFile(io.BytesIO(data)).metadata.num_rows)
    return data.count(b"\n")


def write_shard(folder: Path, name: str, data: bytes, **extra: Any) -> dict[str, Any]:
    """Write ``data`` as shard file ``name`` in ``folder`` (complete or not at all); its
    manifest entry: file, rows, sha256 and ``extra``."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{name}.{os.getpid()}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)
    return shard_entry(folder / name, data, **extra)


def shard_entry(path: Path, data: bytes | None = None, **extra: Any) -> dict[str, Any]:
    """The manifest entry of a shard file written whole: file, rows, ``extra``, sha256."""
    data = path.read_bytes() if data is None else data
    entry = {"file": path.name, "rows": count_rows(path, data), **extra}
    return {**entry, "sha256": hashlib.sha256(data).hexdigest()}


def write_manifest(folder: Path, key: str, total: int, done: dict[int, dict[str, Any]]) -> None:
    """Record the finished shards' entries (through a rename)."""
    text = json.dumps({"key": key, "shards_total": total,
                       "shards": {str(i): done[i] for i in sorted(done)}}, indent=1)  # fmt: skip
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / MANIFEST)


def verified_shards(folder: Path, key: str, total: int) -> dict[int, dict[str, Any]]:
    """The shards of an earlier run of the same job whose files have the recorded rows and
    hash; anything else (another job, a partial or altered shard) is redone."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    if manifest.get("key") != key or manifest.get("shards_total") != total:
        return {}
    good = {}
    for name, entry in manifest.get("shards", {}).items():
        path = folder / entry.get("file", "")
        try:
            data = path.read_bytes()
            rows = count_rows(path, data)
        except Exception:  # unreadable, or a Parquet file cut short
            continue
        if hashlib.sha256(data).hexdigest() == entry.get("sha256") and rows == entry.get("rows"):
            good[int(name)] = entry
    return good


def ray_error(ray: Any, exc: Exception) -> str:
    """What went wrong in a Ray task or actor, in the task's own words where it has them."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, Exception) else exc
        return str(cause)
    return f"{type(exc).__name__}: {exc}"
