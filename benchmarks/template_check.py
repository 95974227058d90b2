"""What the sandbox costs: ``check_template`` on the built-in ``document_qa`` module against the
same work done in this process (its samples made twice, made again for determinism, and
scored), and the start-up of one bare child process (``python -I -B`` importing what the
checks import). The last line is ``sandbox_overhead_s X``: the check's time minus the
in-process baseline's, best of ``--rounds``.

    python benchmarks/template_check.py                 # 300 samples, 3 rounds
    python benchmarks/template_check.py --samples 3000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

MODULE = Path(__file__).resolve().parents[1] / "plugins" / "qa" / "document_qa.py"
CHILD_IMPORTS = "import numpy, cookbook.engine.template_check.checks, cookbook.engine.alignment"


def in_process(samples: int) -> float:
    """Seconds to do the check's work on the registered ``document_qa`` here, unsandboxed."""
    from cookbook import get_registry
    from cookbook.engine import SampleMaker, alignment_scores, resolve_token_space

    template = get_registry().get("templates", "document_qa")
    tokens = resolve_token_space("pseudowords")
    tokens.words  # noqa: B018 - built once, as the child builds it before timing matters
    start = time.perf_counter()
    params = template.resolve({})
    for _ in range(2):  # the checking process and the second process
        maker = SampleMaker(template, template.name, params, 0, tokens)
        records = [maker.record(i) for i in range(samples)]
    for seed in (0, 1):  # made again, and under another seed
        maker = SampleMaker(template, template.name, params, seed, tokens)
        [maker.record(i) for i in range(min(50, samples))]
    SampleMaker(template, template.name, params, 0, tokens).lines(0, samples)  # batch check
    slots = [{k: v for k, v in r["slots"].items() if k != "answer"} for r in records]
    alignment_scores(template, slots, [r["slots"]["answer"] for r in records], params)
    return time.perf_counter() - start


def sandboxed(samples: int) -> float:
    """Seconds ``check_template`` takes on the same template (a module file)."""
    from cookbook.engine import check_template

    start = time.perf_counter()
    report = check_template(MODULE, samples=samples)
    seconds = time.perf_counter() - start
    if not report.accepted:
        raise SystemExit(report.text())
    return seconds


def child_start() -> float:
    """Seconds for a bare ``python -I -B`` to import what the check's child imports."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-I", "-B", "-c", CHILD_IMPORTS], check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    baseline = min(in_process(args.samples) for _ in range(args.rounds))
    check = min(sandboxed(args.samples) for _ in range(args.rounds))
    start = min(child_start() for _ in range(args.rounds))
    print(f"samples {args.samples}, best of {args.rounds} rounds")
    print(f"in_process_s {baseline:.3f}")
    print(f"check_template_s {check:.3f}")
    print(f"child_start_s {start:.3f}")
    print(f"sandbox_overhead_s {check - baseline:.3f}")


if __name__ == "__main__":
    main()
