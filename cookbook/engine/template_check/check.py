"""``check_template``: run the checks on a written template in two sandboxed processes and
turn what they report into a ``CheckReport``. The candidate is never imported here."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError
from cookbook.engine.template_check.candidate import candidate_kind
from cookbook.engine.template_check.report import CheckReport
from cookbook.engine.template_check.sandbox import ChildRun, run_children

_VIOLATIONS = {
    "network": "it used the network ({detail}): a template may not use the network",
    "process": "it tried to start or signal another process ({detail}): a template may not run"
    " other programs",
    "write": "it tried to write a file outside its temporary folder ({detail}): a template may"
    " only read files",
    "read": "it tried to read a file outside its own folder ({detail}): ship the data a template"
    " needs as files beside its module",
    "native": "it tried to use native code ({detail}): ctypes and cffi are not allowed",
    "limits": "it tried to change its resource limits ({detail})",
}


def check_template(
    path: str | Path,
    *,
    task: str | None = None,
    task_path: str | None = None,
    task_params: Mapping[str, Any] | None = None,
    task_split: str | None = None,
    samples: int = 300,
    time_limit: float = 60.0,
    memory_limit: int = 1 << 30,
    params: Mapping[str, Any] | None = None,
) -> CheckReport:
    """Check the template(s) of a Python module file, a plugin package folder or a spec file,
    in sandboxed subprocesses (see docs/automatic-templates.md, "The check"). ``task`` and
    ``task_path`` (with the task's ``task_params``, its ``task_split``: default the task's own)
    add the alignment of that task's records;
    ``params`` are the templates' parameters (default: their defaults). Bad arguments raise
    ``CookbookError``; everything wrong with the candidate is in the report."""
    start = time.monotonic()
    given, path = str(path), Path(path).resolve()
    kind = candidate_kind(path)
    if samples < 1:
        raise CookbookError(f"samples must be at least 1, not {samples}")
    if time_limit <= 0 or memory_limit <= 0:
        raise CookbookError("the time and memory limits must be positive")
    records = _task_records(task, task_path, task_params, task_split)
    config = {
        "path": str(path),
        "kind": kind,
        "samples": samples,
        "time_limit": time_limit,
        "memory_limit": memory_limit,
        "params": dict(params or {}),
        "task": records,
    }
    folder = Path(tempfile.mkdtemp(prefix="cookbook-check-"))
    try:
        runs = run_children(
            {
                "check": {**config, "mode": "full"},
                "again": {**config, "mode": "fingerprint", "task": None},
            },
            folder,
            time_limit,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    report = _report(given, runs["check"], runs["again"], config)
    report.seconds = time.monotonic() - start
    return report


def _task_records(
    task: str | None,
    task_path: str | None,
    task_params: Mapping[str, Any] | None,
    split: str | None = None,
) -> dict[str, Any] | None:
    """The task's records with a non-empty gold answer, as JSON for the child (read here:
    the task reader is an installed plugin, trusted as the CLI trusts it)."""
    if task is None and task_path is None:
        if task_params or split is not None:
            raise CookbookError("task parameters and a split need --task and --task-path")
        return None
    if task is None or task_path is None:
        raise CookbookError("give both --task (the task type) and --task-path (its data)")
    from cookbook.engine.alignment import gold_answers
    from cookbook.engine.evaluation import task_params as resolve_task_params
    from cookbook.registry import get_registry

    reader = get_registry().get("tasks", task)
    resolved = resolve_task_params(reader, task_params)
    records = []
    for record in reader.read(str(task_path), split, **resolved):
        answers = gold_answers(record.answers)
        if answers:
            records.append({"id": record.id, "slots": record.slots, "answers": answers})
    if not records:
        raise CookbookError(f"{task_path}: task {task!r} read no record with a gold answer")
    try:
        json.dumps(records)
    except (TypeError, ValueError) as exc:
        raise CookbookError(f"task {task!r}: its records are not JSON: {exc}") from None
    return {"name": task, "template": reader.template, "records": records}


def _report(path: str, check: ChildRun, again: ChildRun, config: dict[str, Any]) -> CheckReport:
    report = CheckReport(
        path=path,
        accepted=False,
        limits={k: config[k] for k in ("time_limit", "memory_limit", "samples")},
    )
    report.templates = check.last("templates") or []
    report.passed = check.all("passed")
    report.problems = check.all("problem")
    seen = set()
    for message in check.messages + again.messages:
        kind = message.get("violation")
        if kind and (kind, message.get("detail")) not in seen:
            seen.add((kind, message.get("detail")))
            text = _VIOLATIONS.get(kind, "{detail}").format(detail=message.get("detail"))
            report.problems.append(f"refused by the sandbox: {text}")
    if not check.finished:
        report.problems.append(_unfinished(check, config))
    elif report.templates and not any(m.get("violation") for m in check.messages):
        _compare_processes(check, again, report)
    outcomes = [m for m in check.messages if "outcome" in m and m.get("alignment")]
    if outcomes:
        best = max(outcomes, key=lambda m: m["alignment"]["mean"])
        report.alignment = dict(best["alignment"])
        if len(outcomes) > 1:
            report.alignment["by_template"] = {m["outcome"]: m["alignment"] for m in outcomes}
    if report.templates:
        report.passed.insert(0, f"imports and exposes {len(report.templates)} template(s)")
    report.limits["enforced"] = check.last("limits") or {}
    report.accepted = bool(report.templates) and not report.problems
    return report


def _unfinished(run: ChildRun, config: dict[str, Any]) -> str:
    """Why the check's process stopped before the end, in the candidate's terms."""
    stage = run.last("stage") or "starting"
    if run.timed_out:
        return (
            f"stopped at the time limit ({config['time_limit']:g} s) while {stage}: the template"
            " must make its samples quickly (does a loop never end?)"
        )
    if run.last("memory"):
        return (
            f"ran out of memory (the limit is {config['memory_limit'] >> 20} MiB above what the"
            f" check itself uses) while {stage}: a template must make small samples"
        )
    code = run.returncode or 0
    if code < 0:
        try:
            import signal

            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        why = "the CPU time limit" if name == "SIGXCPU" else name
        hint = ""
        if name in ("SIGSEGV", "SIGABRT", "SIGBUS", "SIGKILL"):
            hint = " (perhaps it exceeded the memory limit in native code)"
        return f"the check's process was killed by {why}{hint} while {stage}"
    tail = f"; its last output: {run.stderr[-600:]}" if run.stderr else ""
    return f"the check's process ended early (exit status {code}) while {stage}{tail}"


def _compare_processes(check: ChildRun, again: ChildRun, report: CheckReport) -> None:
    """Both processes made the same samples (seed 0) of every template."""
    first = {m["outcome"]: m for m in check.messages if "outcome" in m}
    second = {m["outcome"]: m for m in again.messages if "outcome" in m}
    for name, mine in first.items():
        hashes = mine.get("hashes") or []
        if not hashes:
            continue
        theirs = second.get(name)
        if theirs is None or not again.finished:
            report.problems.append(
                f"template {name!r}: a second process could not make its samples"
                f" ({_unfinished(again, report.limits) if not again.finished else 'no samples'}):"
                " the template behaves differently from one process to the next"
            )
            continue
        other = theirs.get("hashes") or []
        differs = next(
            (i for i, (a, b) in enumerate(zip(hashes, other, strict=False)) if a != b), None
        )
        if differs is None and len(other) != len(hashes):
            differs = min(len(other), len(hashes))
        if differs is not None:
            report.problems.append(
                f"template {name!r} is not deterministic: sample {differs} (seed 0) differs"
                f" between two separate Python processes (first: {_line(mine, differs)}; second:"
                f" {_line(theirs, differs)}): something depends on the process, such as hash()"
                " of a string, the order of a set, id(), the time or the random module; draw"
                " every random choice from the rng argument and sort sets before choosing"
            )
            continue
        report.passed.append(
            f"template {name!r}: two separate processes make the same {len(hashes)} samples"
        )


def _line(outcome: dict[str, Any], index: int) -> str:
    """Sample ``index`` as one process made it (clipped), or its hash past the lines sent."""
    lines, hashes = outcome.get("lines") or [], outcome.get("hashes") or []
    if index < len(lines):
        return lines[index][:300]
    return f"a sample with hash {hashes[index]}" if index < len(hashes) else "no sample"
