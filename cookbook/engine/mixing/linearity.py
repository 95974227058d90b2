"""The linear mixing check: measured 50/50 pair scores against the single-template average."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.mixing.matrix import read_csv


@dataclass(frozen=True)
class LinearityRow:
    """One pair and task: single-template scores, their average and the 50/50 measurement."""

    pair: tuple[str, str]
    task: str
    score_a: float
    score_b: float
    measured: float

    @property
    def average(self) -> float:
        return (self.score_a + self.score_b) / 2

    @property
    def deviation(self) -> float:
        return abs(self.measured - self.average)


@dataclass(frozen=True)
class LinearityReport:
    """Deviations from the linear mixing assumption over pairs and tasks."""

    rows: tuple[LinearityRow, ...]

    @property
    def mean(self) -> float:
        return statistics.fmean(r.deviation for r in self.rows)

    @property
    def median(self) -> float:
        return statistics.median(r.deviation for r in self.rows)

    def as_json(self) -> dict[str, Any]:
        """``{"rows": [...], "mean": x, "median": y}``."""
        return {
            "rows": [
                {
                    "pair": list(r.pair),
                    "task": r.task,
                    "score_a": r.score_a,
                    "score_b": r.score_b,
                    "average": r.average,
                    "measured": r.measured,
                    "deviation": r.deviation,
                }
                for r in self.rows
            ],
            "mean": self.mean,
            "median": self.median,
        }


def mixture_key(templates: Sequence[str]) -> str:
    """The name of a single-template (``a``) or 50/50 pair (``a+b``) measurement."""
    return "+".join(templates)


def linearity_report(measurements: Mapping[str, Mapping[str, float]]) -> LinearityReport:
    """Compare each measured ``a+b`` mixture with the average of ``a`` and ``b`` per task."""
    rows = []
    for key, scores in measurements.items():
        names = key.split("+")
        if len(names) == 1:
            continue
        if len(names) != 2 or not all(names):
            raise CookbookError(f"measurement {key!r}: expected a template 'a' or a pair 'a+b'")
        a, b = names
        for name in names:
            if name not in measurements:
                raise CookbookError(f"measurement {key!r}: no single-template measurement {name!r}")
        for task, value in scores.items():
            for name in names:
                if task not in measurements[name]:
                    raise CookbookError(
                        f"measurement {key!r}: template {name!r} has no score for task {task!r}"
                    )
            rows.append(
                LinearityRow(
                    (a, b),
                    task,
                    float(measurements[a][task]),
                    float(measurements[b][task]),
                    float(value),
                )
            )
    if not rows:
        raise CookbookError("linearity check: no pair measurements ('a+b')")
    return LinearityReport(tuple(rows))


def check_linearity(
    templates: Sequence[str],
    measure: Callable[[dict[str, float]], Mapping[str, float]],
    pairs: Sequence[tuple[str, str]] | None = None,
) -> LinearityReport:
    """Measure each template alone and each pair at 50/50 with ``measure(mixture)`` (which
    returns ``{task: score}``), then compare as ``linearity_report`` does.

    ``pairs`` defaults to every pair of ``templates``.
    """
    if pairs is None:
        pairs = [(a, b) for i, a in enumerate(templates) for b in templates[i + 1 :]]
    singles = list(dict.fromkeys([*templates, *(t for pair in pairs for t in pair)]))
    measurements: dict[str, Mapping[str, float]] = {t: measure({t: 1.0}) for t in singles}
    for a, b in pairs:
        if a == b:
            raise CookbookError(f"linearity check: pair ({a!r}, {b!r}) repeats a template")
        measurements[mixture_key((a, b))] = measure({a: 0.5, b: 0.5})
    return linearity_report(measurements)


def read_measurements_csv(path: str | Path) -> dict[str, dict[str, float]]:
    """Measured scores from a CSV with columns ``mixture,task,score`` (mixture ``a`` or ``a+b``)."""
    return read_csv(path, _parse_measurements)


def _parse_measurements(path: Path, reader: Any) -> dict[str, dict[str, float]]:
    header = [cell.strip().lower() for cell in next(reader, [])]
    if header != ["mixture", "task", "score"]:
        raise CookbookError(f"{path}:1: the header must be mixture,task,score")
    measurements: dict[str, dict[str, float]] = {}
    for row in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 3:
            raise CookbookError(f"{path}:{line}: expected 3 cells, found {len(row)}")
        names = [n.strip() for n in row[0].split("+")]
        task = row[1].strip()
        if len(names) > 2 or not all(names):
            raise CookbookError(
                f"{path}:{line}: column 1: {row[0]!r} is not a template 'a' or a pair 'a+b'"
            )
        if len(names) == 2 and names[0] == names[1]:
            raise CookbookError(f"{path}:{line}: column 1: a pair needs two templates")
        if not task:
            raise CookbookError(f"{path}:{line}: column 2: empty task name")
        try:
            score = float(row[2])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            raise CookbookError(f"{path}:{line}: column 3: {row[2].strip()!r} is not a number")
        key = mixture_key(sorted(names))
        if task in measurements.get(key, {}):
            raise CookbookError(f"{path}:{line}: a second score for {key!r} on task {task!r}")
        measurements.setdefault(key, {})[task] = score
    if not measurements:
        raise CookbookError(f"{path}: no measurements after the header")
    for key, scores in measurements.items():
        if "+" not in key:
            continue
        for name in key.split("+"):
            if name not in measurements:
                raise CookbookError(f"{path}: pair {key!r} needs rows for {name!r} alone")
            missing = [task for task in scores if task not in measurements[name]]
            if missing:
                raise CookbookError(
                    f"{path}: pair {key!r} is measured on task {missing[0]!r}, "
                    f"but {name!r} alone is not"
                )
    return measurements
