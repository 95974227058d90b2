"""Score matrices: one score per (task, template), read from and written to CSV."""

from __future__ import annotations

import csv
import math
import os
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cookbook.contract.errors import CookbookError, did_you_mean

SOURCES = ("alignment", "proxy", "file")


@dataclass(eq=False)
class ScoreMatrix:
    """Scores of tasks (rows) under templates (columns): ``values[i, j]`` is task i's score
    under template j."""

    tasks: tuple[str, ...]
    templates: tuple[str, ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        self.tasks, self.templates = tuple(self.tasks), tuple(self.templates)
        self.values = np.asarray(self.values, dtype=float)
        for label, names in (("task", self.tasks), ("template", self.templates)):
            if not names:
                raise CookbookError(f"score matrix: no {label}s")
            dupes = sorted(n for n, c in Counter(names).items() if c > 1)
            if dupes:
                raise CookbookError(f"score matrix: duplicate {label} {dupes[0]!r}")
        if self.values.shape != (len(self.tasks), len(self.templates)):
            raise CookbookError(
                f"score matrix: values have shape {self.values.shape}, expected "
                f"{(len(self.tasks), len(self.templates))} (tasks x templates)"
            )
        if not np.isfinite(self.values).all():
            i, j = np.argwhere(~np.isfinite(self.values))[0]
            raise CookbookError(
                f"score matrix: score of task {self.tasks[i]!r} under template "
                f"{self.templates[j]!r} is not a finite number"
            )

    @classmethod
    def from_mapping(cls, scores: Mapping[str, Mapping[str, float]]) -> ScoreMatrix:
        """A matrix from ``scores[task][template]``; every task must score every template."""
        if isinstance(scores, ScoreMatrix):
            return scores
        tasks = list(scores)
        if not tasks:
            raise CookbookError("score matrix: no tasks")
        templates = list(scores[tasks[0]])
        rows = []
        for task in tasks:
            row = scores[task]
            missing = [t for t in templates if t not in row]
            extra = [t for t in row if t not in templates]
            if missing or extra:
                name = (missing or extra)[0]
                what = "has no score for" if missing else "scores an unknown"
                raise CookbookError(f"scores.{task}: {what} template {name!r}")
            try:
                rows.append([float(row[t]) for t in templates])
            except (TypeError, ValueError):
                bad = next(t for t in templates if not is_number(row[t]))
                raise CookbookError(f"scores.{task}.{bad}: {row[bad]!r} is not a number") from None
        return cls(tuple(tasks), tuple(templates), np.array(rows, dtype=float))

    def as_mapping(self) -> dict[str, dict[str, float]]:
        """``{task: {template: score}}``, in matrix order."""
        return {
            task: {t: float(v) for t, v in zip(self.templates, row, strict=True)}
            for task, row in zip(self.tasks, self.values, strict=True)
        }

    def weight_vector(self, weights: Mapping[str, float]) -> np.ndarray:
        """``weights`` as a vector over this matrix's templates (absent templates weigh 0)."""
        unknown = [t for t in weights if t not in self.templates]
        if unknown:
            raise CookbookError(
                f"weights: template {unknown[0]!r} is not in the score matrix"
                f"{suggest(unknown[0], self.templates)}"
            )
        return np.array([float(weights.get(t, 0.0)) for t in self.templates])


def is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def suggest(name: str, known: Iterable[str]) -> str:
    return did_you_mean(name, known, cutoff=0.5)


def as_matrix(scores: ScoreMatrix | Mapping[str, Mapping[str, float]]) -> ScoreMatrix:
    """``scores`` as a ``ScoreMatrix`` (a mapping is ``scores[task][template]``)."""
    return scores if isinstance(scores, ScoreMatrix) else ScoreMatrix.from_mapping(scores)


def read_scores_csv(path: str | Path) -> ScoreMatrix:
    """A matrix from a CSV with header ``task,<template>,...`` and one row per task."""
    return read_csv(path, _parse_scores)


def read_csv(path: str | Path, parse: Callable[[Path, Any], Any]) -> Any:
    """``parse(path, reader)`` over a UTF-8 CSV file; unreadable files are clear errors."""
    path = Path(path)
    if not path.is_file():
        raise CookbookError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        try:
            return parse(path, reader)
        except UnicodeDecodeError:
            raise CookbookError(f"{path}: not UTF-8 text") from None
        except csv.Error as exc:
            raise CookbookError(f"{path}:{reader.line_num}: not valid CSV ({exc})") from None


def _parse_scores(path: Path, reader: Any) -> ScoreMatrix:
    header = next(reader, None)
    if header is None:
        raise CookbookError(f"{path}: empty file; expected a header row task,<template>,...")
    header = [cell.strip() for cell in header]
    if header[0].lower() != "task":
        raise CookbookError(f"{path}:1: column 1: the header must start with 'task'")
    templates = header[1:]
    if not templates:
        raise CookbookError(f"{path}:1: the header names no template columns")
    seen: set[str] = set()
    for column, name in enumerate(templates, 2):
        if not name:
            raise CookbookError(f"{path}:1: column {column}: empty template name")
        if name in seen:
            raise CookbookError(f"{path}:1: column {column}: duplicate template {name!r}")
        seen.add(name)
    tasks: list[str] = []
    rows: list[list[float]] = []
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CookbookError(f"{path}:{line}: expected {len(header)} cells, found {len(row)}")
        task = row[0].strip()
        if not task:
            raise CookbookError(f"{path}:{line}: column 1: empty task name")
        if task in tasks:
            raise CookbookError(f"{path}:{line}: column 1: duplicate task {task!r}")
        values = []
        for column, (name, cell) in enumerate(zip(templates, row[1:], strict=True), 2):
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if not math.isfinite(value):
                raise CookbookError(
                    f"{path}:{line}: column {column} ({name}): {cell.strip()!r} is not a number"
                )
            values.append(value)
        tasks.append(task)
        rows.append(values)
    if not tasks:
        raise CookbookError(f"{path}: no task rows after the header")
    return ScoreMatrix(tuple(tasks), tuple(templates), np.array(rows))


def write_scores_csv(matrix: ScoreMatrix, path: str | Path) -> None:
    """Write ``matrix`` in the layout ``read_scores_csv`` reads, atomically."""
    lines = [["task", *matrix.templates]]
    lines += [
        [task, *(repr(float(v)) for v in row)]
        for task, row in zip(matrix.tasks, matrix.values, strict=True)
    ]

    def write(f: Any) -> None:
        csv.writer(f, lineterminator="\n").writerows(lines)

    write_atomically(Path(path), write)


def write_atomically(path: Path, write: Callable[[Any], None]) -> None:
    """Write through a temporary file in the same folder, renamed into place when complete."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
