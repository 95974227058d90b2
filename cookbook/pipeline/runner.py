"""Running a validated pipeline into its run folder: stages, manifest, logs and dataset card."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from cookbook import __version__
from cookbook.pipeline.cache import (
    STAGE_FILE,
    StageResult,
    run_stage,
    stage_hash,
    write_json_atomic,
    write_text_atomic,
)
from cookbook.pipeline.card import dataset_card
from cookbook.pipeline.config import Pipeline
from cookbook.pipeline.stages import build_stages
from cookbook.registry import get_registry


def plan(pipeline: Pipeline) -> list[tuple[str, str, bool]]:
    """(stage, hash, cached) for each stage, without running anything.

    A stage whose upstream is not done yet is shown with the hash it would have.
    """
    root = pipeline.output_dir
    done: dict[str, StageResult] = {}
    rows = []
    for stage in build_stages(pipeline.config):
        digest = stage_hash(stage, done)
        folder = root / "stages" / f"{stage.name}-{digest}"
        rows.append((stage.name, digest, (folder / STAGE_FILE).exists()))
        done[stage.name] = StageResult(stage.name, digest, folder, {}, 0.0)
    return rows


def run(pipeline: Pipeline, *, force: bool = False, console: Console | None = None) -> dict:
    """Run every stage (cached ones are reused) and write the manifest and the card."""
    console = console or Console(stderr=True)
    root = pipeline.output_dir
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(
        root / "pipeline.yaml", yaml.safe_dump(pipeline.config, sort_keys=False, allow_unicode=True)
    )
    log = _Log(root / "logs" / "run.log")
    log.write(f"run {pipeline.path} (cookbook {__version__})")
    results: dict[str, StageResult] = {}
    for stage in build_stages(pipeline.config):
        console.rule(f"[bold]{stage.name}")
        try:
            result = run_stage(stage, root, results, force=force)
        except BaseException as exc:
            log.write(f"{stage.name}: stopped: {type(exc).__name__}: {exc}")
            raise
        results[stage.name] = result
        state = "cached" if result.cached else f"done in {result.seconds:.1f}s"
        console.print(f"{stage.name}: {state}  [dim]{result.folder.relative_to(root)}[/]")
        log.write(f"{stage.name}: {state} ({result.hash})")
    manifest = _manifest(pipeline, results)
    write_json_atomic(root / "manifest.json", manifest)
    if "generate" in results:
        _link_data(root, results["generate"])
    write_text_atomic(root / "README.md", dataset_card(pipeline.config, results))
    log.write("finished")
    return manifest


def _manifest(pipeline: Pipeline, results: dict[str, StageResult]) -> dict[str, Any]:
    registry = get_registry()
    root = pipeline.output_dir
    return {
        "name": pipeline.config["name"],
        "cookbook": __version__,
        "pipeline": "pipeline.yaml",
        "stages": [
            {
                "name": r.name,
                "hash": r.hash,
                "folder": str(r.folder.relative_to(root)),
                "seconds": r.seconds,
                "summary": r.summary,
            }
            for r in results.values()
        ],
        "plugins": {
            p.name: {"version": p.version, "distribution": p.distribution, "status": p.status}
            for p in registry.plugins
        },
    }


def _link_data(root: Path, generate: StageResult) -> None:
    """``RUN/samples.jsonl``: the generated data, hard-linked (copied where links fail)."""
    source = generate.folder / generate.summary["file"]
    target = root / generate.summary["file"]
    if target.exists() and os.path.samefile(source, target):
        return
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        import shutil

        shutil.copyfile(source, tmp)
    os.replace(tmp, target)


class _Log:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path

    def write(self, message: str) -> None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self.path.open("a", encoding="utf-8") as f:
            f.write(f"{stamp} {message}\n")
