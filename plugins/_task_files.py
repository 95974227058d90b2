"""Reading task data files a user points at: which file, JSON and JSONL with clear errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cookbook import CookbookError
from cookbook.engine.samples import read_jsonl

__all__ = ["PROMPT_PARAMS_SCHEMA", "check_outputs", "data_file", "field", "read_json", "read_jsonl"]


#: Parameters of tasks whose only option is the prompt format.
PROMPT_PARAMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"prompt": {"type": "string", "description": "Prompt format over the slots."}},
    "additionalProperties": False,
}


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
        with path.open(encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as exc:
        raise CookbookError(
            f"{path}:{exc.lineno}:{exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except UnicodeDecodeError as exc:
        raise CookbookError(f"{path}: not UTF-8 text ({exc.reason})") from None


def field(record: dict[str, Any], key: str, kind: type, where: str) -> Any:
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
