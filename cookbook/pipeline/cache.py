"""Cached, resumable steps: each step's outputs live under a content hash of what it reads.

A step works in ``steps/NAME-HASH.partial/`` and becomes ``steps/NAME-HASH/`` by one rename
after it wrote ``step.json``, so a killed run never leaves anything that looks finished, and a
step may resume from what its partial folder holds (a trainer's checkpoints).
"""

from __future__ import annotations

import fnmatch
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

from cookbook.contract.errors import CookbookError
from cookbook.contract.seeding import canonical_json
from cookbook.contract.steps import Artifact

STEP_FILE = "step.json"


#: A folder is hashed by the content of its files while they hold at most this many bytes
#: and ``DIGEST_CONTENT_FILES`` files; beyond either, by their names, sizes and modification
#: times (a touched file then counts as changed: a rerun, never a stale cache).
DIGEST_CONTENT_BYTES = 256 * 2**20
DIGEST_CONTENT_FILES = 10_000
#: A folder holding more files than this is refused: it is not a task's data.
DIGEST_MAX_FILES = 100_000
#: Virtual file systems: their entries are no data, and reading some never ends.
VIRTUAL_ROOTS = (Path("/proc"), Path("/sys"))


def virtual_path(path: str | Path) -> bool:
    """Whether ``path`` (resolved) lies in ``/proc`` or ``/sys``."""
    resolved = Path(path).resolve()
    return any(resolved == root or root in resolved.parents for root in VIRTUAL_ROOTS)


def folder_files(path: Path, pattern: str = "*", limit: int | None = None) -> list[Path]:
    """The regular files under folder ``path`` whose names match ``pattern``, relative to it and
    in a stable order, without following links to folders and passing over devices, fifos,
    sockets and links into ``/proc`` or ``/sys``; an error beyond ``limit`` files (default
    ``DIGEST_MAX_FILES``)."""
    limit = DIGEST_MAX_FILES if limit is None else limit
    found: list[Path] = []
    for folder, folders, names in os.walk(path):
        folders.sort()
        for name in names:
            target = Path(folder, name)
            if not fnmatch.fnmatchcase(name, pattern) or not target.is_file():
                continue
            if target.is_symlink() and virtual_path(target):
                continue  # a link into /proc or /sys: no data, and reading may never end
            found.append(target.relative_to(path))
            if len(found) > limit:
                raise CookbookError(
                    f"{path}: a folder of more than {limit} files is not a task's data:"
                    " point at the data file or a folder holding it"
                )
    return sorted(found, key=lambda p: p.parts)


def file_digest(path: str | Path, pattern: str = "*") -> str:
    """Hash of a regular file's name and content, or of every regular file under a folder whose
    name matches ``pattern`` (relative names included): by content up to
    ``DIGEST_CONTENT_BYTES`` and ``DIGEST_CONTENT_FILES``, else by names, sizes and
    modification times. Never reads a device, a fifo or ``/proc``; an error names the path."""
    path = Path(path)
    digest = hashlib.sha256()
    if virtual_path(path):
        raise CookbookError(f"{path}: an entry of a virtual file system (/proc, /sys), not data")
    if path.is_dir():
        files = folder_files(path, pattern)
        stats = [(path / name).stat() for name in files]
        if len(files) <= DIGEST_CONTENT_FILES and (
            sum(s.st_size for s in stats) <= DIGEST_CONTENT_BYTES
        ):
            for name in files:
                digest.update(str(name).encode())
                _hash_content(digest, path / name)
        else:
            digest.update(b"\0names, sizes and modification times\0")
            for name, stat in zip(files, stats, strict=True):
                digest.update(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    elif path.is_file():
        digest.update(path.name.encode())
        _hash_content(digest, path)
    elif path.exists():
        raise CookbookError(f"{path}: not a regular file or a folder (a device, fifo or socket)")
    else:
        raise CookbookError(f"{path}: no such file or folder")
    return digest.hexdigest()[:16]


def _hash_content(digest: Any, path: Path) -> None:
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)


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
    files = sorted(origin.parent.rglob("*.py")) if spec.submodule_search_locations else [origin]
    try:  # the source is read again only when a file was added, removed or touched
        stamp = tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)
    except OSError:
        stamp = None
    if stamp is not None and stamp in _source_digests:
        return _source_digests[stamp]
    digest = (
        file_digest(origin.parent, "*.py")
        if spec.submodule_search_locations
        else (file_digest(origin))
    )
    if stamp is not None:
        _source_digests[stamp] = digest
    return digest


#: Source digests by the names, sizes and modification times of the files they cover.
_source_digests: dict[tuple[tuple[str, int, int], ...], str] = {}


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


def partial_folder(root: Path, name: str, digest: str) -> Path:
    """Where step ``name`` works until it is finished (then renamed to its ``step_folder``)."""
    final = step_folder(root, name, digest)
    return final.with_name(final.name + ".partial")


def cached_step(root: Path, name: str, digest: str) -> StepResult | None:
    """The finished step in its folder, or None when it has not finished."""
    folder = step_folder(root, name, digest)
    record_file = folder / STEP_FILE
    if not record_file.exists():
        return None
    try:
        record = json.loads(record_file.read_text(encoding="utf-8"))
        outputs = {k: Artifact.from_json(v, folder) for k, v in record["outputs"].items()}
        return StepResult(
            name, record["kind"], digest, folder, outputs, record["seconds"], cached=True
        )
    except CookbookError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CookbookError(
            f"{record_file}: the record of a finished step cannot be read ({exc}):"
            f" delete {folder} (or run with --force) to run the step again"
        ) from None


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
    partial = partial_folder(root, name, digest)
    if force:
        for folder in (final, partial):
            if folder.exists():
                shutil.rmtree(folder)
    done = cached_step(root, name, digest)
    if done is not None:
        return done
    partial.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    try:
        outputs = dict(run(partial))
    except BaseException as exc:
        kept = _tidy(partial)
        if isinstance(exc, CookbookError):
            raise CookbookError(f"{exc}\n{unfinished_note(root, partial, kept)}") from exc
        raise
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
    if final.exists():  # a folder without its step.json: never finished, so replaced
        shutil.rmtree(final)
    os.replace(partial, final)
    outputs = {k: Artifact.from_json(v, final) for k, v in document["outputs"].items()}
    return StepResult(name, kind, digest, final, outputs, seconds)


def _tidy(partial: Path) -> bool:
    """Remove ``partial`` when it holds nothing; whether it was kept (it holds work)."""
    try:
        partial.rmdir()  # only an empty folder
    except OSError:
        return partial.exists()
    return False


def unfinished_note(root: Path, partial: Path, kept: bool | None = None) -> str:
    """What a step that stopped left behind in ``partial``, and what a rerun does with it."""
    if kept is None:
        kept = partial.exists()
    try:
        where = partial.relative_to(root)
    except ValueError:
        where = partial
    if not kept:
        return f"(nothing was left behind: its empty working folder {where}/ was removed)"
    files = [p for p in partial.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in files)
    return (
        f"(its unfinished work is kept in {where}/, {len(files)} file"
        f"{'s' if len(files) != 1 else ''} of {_size(size)}: running the pipeline again"
        " resumes from it or replaces it; --force starts the step afresh)"
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{count} bytes"  # pragma: no cover
