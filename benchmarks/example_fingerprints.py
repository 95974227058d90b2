"""Run every pipeline in ``examples/`` cut short, and print what it made as fingerprints.

Training is cut to two steps and evaluation to two records a task, so the whole set runs in
minutes on a CPU. The fingerprints are the bytes that matter: the generated samples (sha256),
the alignment scores, the mixture weights and counts, and every evaluation value. Run it on
two versions of Cookbook and compare the JSON files: a refactoring keeps them equal.

    python benchmarks/example_fingerprints.py -o before.json
    ... change the code ...
    python benchmarks/example_fingerprints.py -o after.json --compare before.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def cuts(pipeline: dict) -> list[str]:
    """``--set`` overrides that keep the pipeline's shape but shorten training and evaluation."""
    sets = []
    if "train" in pipeline:
        sets += ["train.max_steps=2", "train.checkpoint_every=1"]
    if "eval" in pipeline:
        sets += ["eval.limit=2"]
        if pipeline["eval"].get("template_samples", 50):
            sets += ["eval.template_samples=2"]
    for i in range(len(pipeline.get("tasks") or [])):
        sets += [f"tasks.{i}.eval_limit=2", f"tasks.{i}.dev_limit=4"]
    return sets


def _summaries(manifest: dict) -> dict[str, dict]:
    """What each step (or stage, before steps existed) made, by name, in one shape: the
    outputs of a step merged into one mapping, or a stage's summary."""
    if "steps" in manifest:
        return {
            entry["name"]: {k: v for output in entry["outputs"].values() for k, v in output.items()}
            for entry in manifest["steps"]
        }
    return {entry["name"]: entry["summary"] for entry in manifest["stages"]}


def fingerprint(run: Path) -> dict:
    """What a run made, without paths, hashes of code or timings."""
    manifest = json.loads((run / "manifest.json").read_text())
    steps = _summaries(manifest)
    out: dict = {}
    samples = sorted(run.glob("samples.*"))
    if samples:
        out["samples_sha256"] = hashlib.sha256(samples[0].read_bytes()).hexdigest()
    if "score" in steps:
        out["alignment"] = steps["score"]["scores"]
    if "mix" in steps:
        summary = steps["mix"]
        out["mixture"] = {k: summary.get(k) for k in ("weights", "counts", "predicted")}
    if "generate" in steps:
        out["counts"] = steps["generate"]["counts"]
    if "eval" in steps:
        out["eval"] = sorted(
            [r["model"], r["kind"], r["name"], r["metric"], r["value"], r["alignment"]]
            for r in steps["eval"]["rows"]
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-o", "--output", type=Path, required=True, help="Fingerprints JSON.")
    parser.add_argument("--compare", type=Path, help="Fingerprints of another version.")
    parser.add_argument("--only", nargs="*", help="Example files (default: all).")
    args = parser.parse_args()
    files = [Path(f) for f in args.only] if args.only else sorted(ROOT.glob("examples/**/*.yaml"))
    results = {}
    with tempfile.TemporaryDirectory(prefix="fingerprints-") as tmp:
        for file in files:
            name = str(file.resolve().relative_to(ROOT))
            pipeline = yaml.safe_load(file.read_text())
            run = Path(tmp) / file.stem
            command = ["cookbook", "run", str(file), "--set", f"output_dir={run}"]
            for item in cuts(pipeline):
                command += ["--set", item]
            print(f"== {name}", file=sys.stderr, flush=True)
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                results[name] = {"error": done.stderr.strip().splitlines()[-1:]}
                continue
            results[name] = fingerprint(run)
    args.output.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    if args.compare:
        before = json.loads(args.compare.read_text())
        same = [n for n in results if before.get(n) == results[n]]
        for name in results:
            print(f"{'same' if name in same else 'DIFFERENT'}  {name}")
        sys.exit(0 if len(same) == len(results) else 1)


if __name__ == "__main__":
    main()
