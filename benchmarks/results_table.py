"""Markdown tables of the eval rows of finished pipeline runs, for docs/results.md.

    python benchmarks/results_table.py runs/results/base runs/results/mix runs/results/uniform

Each run folder's ``manifest.json`` names its eval stage; every (model, task) row becomes a
cell "metric (alignment)". The column is the run folder's name, with ``base`` for base rows.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def eval_rows(run: Path) -> list[dict]:
    """The rows of the eval stage of the run in folder ``run``."""
    manifest = json.loads((run / "manifest.json").read_text())
    for stage in manifest["stages"]:
        if stage["name"] == "eval":
            return stage["summary"]["rows"]
    raise SystemExit(f"{run}: no eval stage in manifest.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders (output_dir)")
    args = parser.parse_args()
    cells: dict[str, dict[str, str]] = {}
    metrics: dict[str, str] = {}
    columns: list[str] = []
    for run in args.runs:
        for row in eval_rows(run):
            column = "base" if row["model"] == "base" else run.name
            if column not in columns:
                columns.append(column)
            name = row["name"] if row["kind"] == "task" else f"{row['name']} (template)"
            metrics[name] = row["metric"]
            alignment = row.get("alignment")
            extra = f" ({alignment:.2f})" if alignment is not None else ""
            cells.setdefault(name, {})[column] = f"{row['value']:.1f}{extra}"
    print("| task | metric | " + " | ".join(columns) + " |")
    print("| --- | --- | " + " | ".join("---:" for _ in columns) + " |")
    for name, row in cells.items():
        values = " | ".join(row.get(c, "") for c in columns)
        print(f"| {name} | {metrics[name]} | {values} |")


if __name__ == "__main__":
    main()
