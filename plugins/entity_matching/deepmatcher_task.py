"""The ``deepmatcher`` task: entity matching in the DeepMatcher/Magellan layout, mapped into
``entity_matching``.

A dataset folder holds ``tableA.csv`` and ``tableB.csv`` (``id,<attributes>``) and one CSV
per split (``ltable_id,rtable_id,label``). Each labelled pair becomes a record whose slots
are the two rows serialised ``attribute: value`` (missing values written "nan"); the gold
answer is Yes for label 1 and No for 0, and the model's answer is the likelier of the two
(or Yes above a log-likelihood margin fitted on the valid split: ``cookbook eval --calibrate``).
Metric: precision, recall and F1 of Yes (0-100).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

from cookbook import (
    UNSET,
    CookbookError,
    Param,
    Params,
    PromptFormat,
    Task,
    TaskRecord,
    check_outputs,
)
from cookbook_plugins.entity_matching.template import entity_matching, parse_yes_no, serialize

Table = dict[str, dict[str, str]]


def _rows(path: Path, required: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV file with a header that has the ``required`` columns."""
    if not path.is_file():
        raise CookbookError(f"{path}: no such file")
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise CookbookError(
                    f"{path}:1: header lacks column(s) {', '.join(missing)}"
                    f" (found: {', '.join(header) or 'nothing'})"
                )
            for row in reader:
                if None in row or None in row.values():
                    raise CookbookError(
                        f"{path}:{reader.line_num}: expected {len(header)} fields as in the header"
                    )
                yield reader.line_num, row
    except UnicodeDecodeError as exc:
        raise CookbookError(f"{path}: not UTF-8 text ({exc.reason})") from None
    except csv.Error as exc:
        raise CookbookError(f"{path}: bad CSV ({exc})") from None


def read_table(path: Path, exclude: Sequence[str] = ()) -> Table:
    """Rows of a table by ``id``, each an attribute -> value dict without ``id``/``exclude``."""
    table: Table = {}
    for number, row in _rows(path, ["id"]):
        key = row.pop("id").strip()
        if key in table:
            raise CookbookError(f"{path}:{number}: duplicate id {key!r}")
        table[key] = {k: v for k, v in row.items() if k not in exclude}
    return table


def _metrics(predicted: Sequence[bool], gold: Sequence[bool]) -> dict[str, float]:
    true_pos = sum(p and g for p, g in zip(predicted, gold, strict=True))
    precision = true_pos / sum(predicted) if any(predicted) else 0.0
    recall = true_pos / sum(gold) if any(gold) else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": 100 * f1, "precision": 100 * precision, "recall": 100 * recall}


class DeepMatcherTask(Task):
    """Entity matching over DeepMatcher folders (Beer, Fodors-Zagats, DBLP-ACM, ...)."""

    name = "deepmatcher"
    template = "entity_matching"
    mode = "choice"
    main_metric = "f1"
    description = (
        "Entity matching in the DeepMatcher layout (tableA/tableB.csv plus split CSVs of"
        " ltable_id,rtable_id,label); F1 of the matching class."
    )

    def read(
        self,
        path: str,
        split: str | None = None,
        *,
        prompt: PromptFormat = UNSET,
        exclude: Annotated[
            list[str],
            Param("Columns to leave out (e.g. an identifier that leaks the label)."),
        ] = [],  # noqa: B006 - never mutated; the schema's default is a JSON list
    ) -> Iterator[TaskRecord]:
        """Records of ``split`` (default ``test``) of the dataset folder at ``path``."""
        folder = Path(path)
        if not folder.is_dir():
            raise CookbookError(f"task {self.name!r}: {folder}: no such folder")
        split = split or "test"
        pairs = folder / f"{split}.csv"
        if not pairs.is_file():
            found = sorted(p.stem for p in folder.glob("*.csv") if not p.stem.startswith("table"))
            raise CookbookError(
                f"task {self.name!r}: {pairs}: no such split (found: {', '.join(found) or 'none'})"
            )
        left = read_table(folder / "tableA.csv", exclude)
        right = read_table(folder / "tableB.csv", exclude)
        params = {} if prompt is UNSET else {"prompt": prompt}
        for number, row in _rows(pairs, ["ltable_id", "rtable_id", "label"]):
            where = f"{pairs}:{number}"
            a, b, label = row["ltable_id"].strip(), row["rtable_id"].strip(), row["label"].strip()
            if a not in left:
                raise CookbookError(f"{where}: ltable_id {a!r} is not in tableA.csv")
            if b not in right:
                raise CookbookError(f"{where}: rtable_id {b!r} is not in tableB.csv")
            if label not in ("0", "1"):
                raise CookbookError(f"{where}: label must be 0 or 1, not {label!r}")
            slots = {"entity_a": serialize(left[a]), "entity_b": serialize(right[b])}
            answer = "Yes" if label == "1" else "No"
            yield TaskRecord(
                id=f"{split}-{a}-{b}",
                slots=slots,
                answers=[answer],
                prompt=entity_matching.render({**slots, "answer": answer}, params)[0],
                choices=["Yes", "No"],
                gold=0 if label == "1" else 1,
            )

    def metric(self, records: Sequence[TaskRecord], outputs: Sequence[Any]) -> dict[str, float]:
        """``f1``, ``precision`` and ``recall`` of Yes (0-100). An output is the log-likelihoods
        of Yes and No (Yes when the first is at least the second) or a generated text (one
        saying neither Yes nor No counts as No)."""
        check_outputs(self.name, list(records), list(outputs))
        predicted = [_says_yes(output) for output in outputs]
        gold = [record.answers[0] == "Yes" for record in records]
        return _metrics(predicted, gold)

    params = Params.of(read)


def _says_yes(output: Any) -> bool:
    if isinstance(output, list | tuple):
        yes, no = output
        return yes >= no
    return parse_yes_no(str(output)) == "Yes"


deepmatcher = DeepMatcherTask()
