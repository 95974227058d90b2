"""Reading the data files a user points a task at: which file, JSON and JSONL, with errors
that name the file, the line and the field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError


def data_file(task: str, path: str | Path, split: str | None, suffix: str) -> Path:
    """The file to read: ``path`` itself, or in a folder the one ``*suffix`` file whose name
    contains ``split`` (``--split dev`` picks ``..._dev.json``)."""
    path = Path(path)
    if path.is_file():
        return path
    if not path.exists():
        raise CookbookError(f"task {task!r}: {path}: no such file or folder")
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(suffix))
    if split is not None:
        exact = [p for p in files if p.name == f"{split}{suffix}"]
        files = exact or [p for p in files if split in p.stem]
    if len(files) != 1:
        found = ", ".join(p.name for p in files) or f"no *{suffix} file"
        hint = "name one with --split" if split is None else f"for split {split!r}"
        raise CookbookError(f"task {task!r}: {path}: found {found}; {hint}")
    return files[0]


def read_json(path: Path) -> Any:
    """The JSON document at ``path``; a syntax error names the line and column."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise CookbookError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except UnicodeDecodeError as exc:
        raise CookbookError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except RecursionError:
        raise CookbookError(f"{path}: JSON nested too deep to read") from None
    except OSError as exc:
        raise CookbookError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line names the file and line."""
    try:
        with path.open(encoding="utf-8-sig") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CookbookError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                except RecursionError:
                    raise CookbookError(f"{path}:{number}: JSON nested too deep to read") from None
                if not isinstance(record, dict):
                    raise CookbookError(f"{path}:{number}: expected a JSON object")
                yield number, record
    except UnicodeDecodeError as exc:
        raise CookbookError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise CookbookError(f"{path}: cannot read it: {exc.strerror or exc}") from None


def require_field(record: dict[str, Any], key: str, kind: type, where: str) -> Any:
    """``record[key]``, which must be a ``kind``; otherwise an error naming ``where`` and key."""
    if key not in record:
        raise CookbookError(f"{where}: missing field {key!r}")
    value = record[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise CookbookError(
            f"{where}: field {key!r} must be a {kind.__name__}, not {type(value).__name__}"
        )
    return value


def check_outputs(task: str, records: list[Any], outputs: list[Any]) -> None:
    """Records and outputs must pair up one to one."""
    if len(records) != len(outputs):
        raise CookbookError(
            f"task {task!r}: {len(records)} records but {len(outputs)} outputs to score"
        )
