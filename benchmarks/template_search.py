"""Alignment-guided search on real tasks: the best specs found on one split, measured on
another, against the hand-written template on the same records (docs/automatic-templates.md,
"Alignment-guided search", prints these tables).

Beer (deepmatcher): searched on the train pairs, measured on the test pairs. TyDi QA (squad):
searched on the first 400 questions of the English train file, measured on the 100 dev
questions shipped in examples/data. With ``--write``, the best spec of each is written to
examples/specs/{beer,tydiqa}_searched.yaml.

    python benchmarks/template_search.py [--data ../shared/data] [--budget 120] [--seed 0] [--write]
"""

from __future__ import annotations

import argparse
import time
from itertools import islice
from pathlib import Path

import yaml

from cookbook import get_registry, template_from_spec
from cookbook.engine import alignment_scores, summarize
from cookbook_plugins.template_writing.search import search_specs

ROOT = Path(__file__).resolve().parents[1]


def alignment(template, records) -> str:
    """The alignment statistic of ``records`` under ``template`` with its 95% interval."""
    scores = alignment_scores(template, [r.slots for r in records], [r.answers for r in records])
    s = summarize(scores)
    return f"{s.statistic:.3f} [{s.ci_low:.3f}, {s.ci_high:.3f}]"


def run(label: str, task_name: str, search, held, budget: int, seed: int, out: Path | None):
    task = get_registry().get("tasks", task_name)
    started = time.perf_counter()
    results = search_specs(search, budget=budget, seed=seed)
    took = time.perf_counter() - started
    print(f"\n{label}: {len(results)} specs evaluated on {len(search)} records in {took:.1f} s;")
    print(f"measured on {len(held)} held-out records\n")
    print("| spec | alignment, searched records | alignment, held out |")
    print("| --- | --- | --- |")
    for rank, result in enumerate(results, 1):
        if rank <= 6 or result.name.startswith(("span_after_k2_", "span_after_k3_")):
            held_out = alignment(template_from_spec(result.spec), held)
            print(f"| {result.name} (rank {rank}) | {result.alignment:.3f} | {held_out} |")
    hand = get_registry().get("templates", task.template)
    searched = alignment(hand, search).split()[0]
    print(f"| hand-written {task.template} | {searched} | {alignment(hand, held)} |")
    if out is not None:
        best = results[0]
        header = (
            f"# Found by alignment-guided search (budget {budget}, seed {seed}) on"
            f" {len(search)} records of {label};\n# alignment {best.alignment:.3f} there"
            " (benchmarks/template_search.py --write).\n"
        )
        out.write_text(header + yaml.safe_dump(best.spec, sort_keys=False, allow_unicode=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--budget", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="write the best specs")
    args = parser.parse_args()
    registry = get_registry()
    specs = ROOT / "examples" / "specs"
    beer = str(args.data / "entity_matching" / "Beer")
    deepmatcher = registry.get("tasks", "deepmatcher")
    run(
        "Beer (deepmatcher, train split)",
        "deepmatcher",
        list(deepmatcher.read(beer, "train")),
        list(deepmatcher.read(beer, "test")),
        args.budget,
        args.seed,
        specs / "beer_searched.yaml" if args.write else None,
    )
    squad = registry.get("tasks", "squad")
    train = str(args.data / "qa" / "english_tydiqa_train.json")
    run(
        "TyDi QA English train (squad, first 400 questions)",
        "squad",
        list(islice(squad.read(train), 400)),
        list(squad.read(str(ROOT / "examples" / "data" / "tydiqa_english_dev_100.json"))),
        args.budget,
        args.seed,
        specs / "tydiqa_searched.yaml" if args.write else None,
    )


if __name__ == "__main__":
    main()
