"""A Cookbook task's records as an lm-evaluation-harness task: a YAML config over a local JSONL
of the records (``dataset_path: json``, no hub download), so ``lm_eval --include_path DIR``
scores a model on exactly the records Cookbook scores.

Choice tasks become ``output_type: multiple_choice`` over the same contexts and continuations
(accuracy, and ``acc_norm`` as the harness computes it); generation tasks become
``generate_until`` whose per-record metric is the Cookbook task's own (``utils.py`` calls it),
so the numbers mean the same on both sides."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from cookbook import CookbookError, get_registry

UTILS = '''"""Per-record metrics of a Cookbook task, for lm-evaluation-harness (by Cookbook)."""

from cookbook import TaskRecord, get_registry

TASK = {task!r}


def process_results(doc, results):
    task = get_registry().get("tasks", TASK)
    record = TaskRecord(id=doc["id"], slots=doc["slots"], answers=doc["answers"],
                        prompt=doc["prompt"])
    return {{k: float(v) for k, v in task.metric([record], [results[0]]).items()}}
'''


def harness_name(name: str) -> str:
    """A task name lm-eval accepts: ``cookbook_`` and the name in lower-case word characters."""
    return "cookbook_" + re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")


def export_task(
    task_type: str,
    data: str,
    folder: Path,
    *,
    name: str | None = None,
    split: str | None = None,
    params: Mapping[str, Any] | None = None,
    limit: int | None = None,
) -> Path:
    """Write ``folder/NAME.yaml`` and ``folder/NAME.jsonl`` (and, for a generation task,
    ``folder/NAME_utils.py``); returns the YAML's path."""
    import cookbook.engine as engine

    task = get_registry().get("tasks", task_type)
    read = engine.task_params(task, params)
    records = []
    for record in task.read(data, split, **read):
        records.append(record)
        if limit is not None and len(records) >= limit:
            break
    if not records:
        raise CookbookError(f"{data}: task {task_type!r} read no records to export")
    label = harness_name(name or task_type)
    folder.mkdir(parents=True, exist_ok=True)
    rows_file = folder / f"{label}.jsonl"
    mode = getattr(task, "mode", "generate")
    config: dict[str, Any] = {
        "task": label,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(rows_file.resolve())}},
        "test_split": "test",
        "doc_to_text": "{{prompt}}",
    }
    if mode == "choice":
        for record in records:
            if record.contexts is not None:
                raise CookbookError(
                    f"task {task_type!r}: record {record.id!r} scores each choice after a context"
                    " of its own (partial evaluation), which this export does not write"
                )
        # The harness joins context and choice with target_delimiter and normalises acc_norm
        # by the choice string's length: a shared leading space becomes the delimiter.
        spaced = all(c.startswith(" ") for r in records for c in r.choices or [])
        rows = [
            {"id": r.id, "prompt": r.prompt, "gold": r.gold,
             "choices": [c[1:] if spaced else c for c in r.choices or []]}
            for r in records
        ]  # fmt: skip
        config |= {
            "output_type": "multiple_choice",
            "doc_to_choice": "{{choices}}",
            "doc_to_target": "{{gold}}",
            "target_delimiter": " " if spaced else "",
            "metric_list": [
                {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
            ],
        }
    else:
        rows = [
            {"id": r.id, "prompt": r.prompt, "answers": r.answers, "slots": _jsonable(r.slots)}
            for r in records
        ]
        utils = folder / f"{label}_utils.py"
        utils.write_text(UTILS.format(task=task_type), encoding="utf-8")
        first = records[0]
        names = list(task.metric([first], [first.answers[0] if first.answers else ""]))
        config |= {
            "output_type": "generate_until",
            "doc_to_target": "{{answers[0]}}",
            "generation_kwargs": {
                "until": ["\n"],
                "max_gen_toks": int(getattr(task, "max_new_tokens", None) or 32),
                "do_sample": False,
            },
            "process_results": f"!function {utils.stem}.process_results",
            "metric_list": [
                {"metric": metric, "aggregation": "mean", "higher_is_better": True}
                for metric in names
            ],
        }
    with rows_file.open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    text = text.replace("'!function ", "!function ").replace(
        ".process_results'", ".process_results"
    )
    path = folder / f"{label}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))
