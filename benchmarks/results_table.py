"""Markdown tables of the eval rows of finished pipeline runs, for docs/results.md.

    python benchmarks/results_table.py runs/results/base runs/results/mix runs/results/uniform

Each run folder's ``manifest.json`` names its eval step; every (model, task) row becomes a
cell "metric (alignment)". The column is the run folder's name, with ``base`` for base rows.
``--subset tydiqa=100`` recomputes that task's metric on its first 100 records from the saved
generations (so runs evaluated on different numbers of records compare on the same ones).
"""

from __future__ import annotations

import argparse
import json
from itertools import islice
from pathlib import Path


def eval_stage(run: Path) -> dict:
    """The eval step of the run in folder ``run``: its ``folder`` and its ``rows`` (from a
    run of this version, or the eval stage of a run made before pipelines had steps)."""
    manifest = json.loads((run / "manifest.json").read_text())
    for step in manifest.get("steps", []):
        if step["kind"] == "eval":
            return {"folder": step["folder"], "rows": step["outputs"]["results"]["rows"]}
    for stage in manifest.get("stages", []):
        if stage["name"] == "eval":
            return {"folder": stage["folder"], "rows": stage["summary"]["rows"]}
    raise SystemExit(f"{run}: no eval step in manifest.json")


def subset_value(run: Path, stage: dict, row: dict, n: int) -> float:
    """The row's metric on the task's first ``n`` records, from the saved generations."""
    import yaml

    from cookbook.engine.calibration import with_threshold
    from cookbook.registry import get_registry

    config = yaml.safe_load((run / "pipeline.yaml").read_text())
    task = next(t for t in config["tasks"] if t["name"] == row["name"])
    generations = run / stage["folder"] / f"{row['model']}-{row['name']}.jsonl"
    lines = [json.loads(line) for line in generations.read_text().splitlines()]
    # choice tasks are scored from each option's log-likelihood, generation tasks from the text
    outputs = [line.get("loglikelihoods", line["output"]) for line in lines]
    if len(outputs) < n:
        raise SystemExit(f"{generations}: {len(outputs)} generations, fewer than {n}")
    threshold = row["result"].get("threshold")
    if threshold is not None:  # a calibrated two-choice task decides with its fitted margin
        outputs = with_threshold(outputs, threshold)
    component = get_registry().get("tasks", task["type"])
    records = component.read(task["path"], task.get("split"), **task.get("params", {}))
    return component.metric(list(islice(records, n)), outputs[:n])[row["metric"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (output_dir)")
    parser.add_argument("--subset", action="append", default=[], help="TASK=N: first N records")
    args = parser.parse_args()
    subsets = {k: int(v) for k, v in (item.split("=", 1) for item in args.subset)}
    cells: dict[str, dict[str, str]] = {}
    metrics: dict[str, str] = {}
    columns: list[str] = []
    for run in args.runs:
        stage = eval_stage(run)
        for row in stage["rows"]:
            column = "base" if row["model"] == "base" else run.name
            if column not in columns:
                columns.append(column)
            name = row["name"] if row["kind"] == "task" else f"{row['name']} (template)"
            alignment, value = row.get("alignment"), row["value"]
            if row["kind"] == "task" and row["name"] in subsets:
                value, alignment = subset_value(run, stage, row, subsets[row["name"]]), None
                name = f"{row['name']} (first {subsets[row['name']]})"
            extra = f" ({alignment:.2f})" if alignment is not None else ""
            metrics[name] = row["metric"]
            cells.setdefault(name, {})[column] = f"{value:.1f}{extra}"
    print("| task | metric | " + " | ".join(columns) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in columns) + " |")
    for name, row in cells.items():
        values = " | ".join(row.get(c, "") for c in columns)
        print(f"| {name} | {metrics[name]} | {values} |")


if __name__ == "__main__":
    main()
