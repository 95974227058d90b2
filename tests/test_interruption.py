"""SIGKILL mid-run: the workers of a killed command die with it, and a rerun writes the same
bytes as a run that was never interrupted."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads /proc (Linux)")


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    """Those of ``pids`` that still run (not zombies)."""
    running = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state != "Z":
            running.add(pid)
    return running


def kill_mid_run(command: list[str], started: Path) -> set[int]:
    """Start ``command``; once ``started`` exists and it has workers, SIGKILL it alone (not
    its process group, as the kernel's OOM killer or `kill -9` would); its workers' pids."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    workers: set[int] = set()
    while time.time() < deadline and proc.poll() is None:
        workers = children(proc.pid)
        if len(workers) >= 2 and started.exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None and len(workers) >= 2, "the run was not caught with its workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return workers


def wait_gone(pids: set[int]) -> set[int]:
    deadline = time.time() + 10
    while alive(pids) and time.time() < deadline:
        time.sleep(0.05)
    return alive(pids)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_killed_generate_leaves_no_worker_and_reruns_to_the_same_bytes(tmp_path):
    out = tmp_path / "killed.jsonl"
    command = [sys.executable, "-m", "cookbook", "generate", "document_qa", "-n", "600000"]
    command += ["--workers", "2", "--seed", "4"]
    workers = kill_mid_run([*command, "-o", str(out)], out.with_name(out.name + ".partial"))
    assert not wait_gone(workers), "workers outlived their killed parent"
    assert not out.exists()
    subprocess.run([*command, "-o", str(out)], check=True, capture_output=True)
    clean = tmp_path / "clean.jsonl"
    subprocess.run([*command, "-o", str(clean)], check=True, capture_output=True)
    assert digest(out) == digest(clean)


def test_killed_pipeline_leaves_no_worker_and_resumes_to_the_same_bytes(tmp_path):
    text = "name: k\noutput_dir: out\ntemplates: [document_qa]\ngenerate: {samples: 600000}\n"
    (tmp_path / "pipeline.yaml").write_text(text)
    command = [sys.executable, "-m", "cookbook", "run", str(tmp_path / "pipeline.yaml")]
    steps = tmp_path / "out" / "steps"

    def started() -> Path:
        found = list(steps.glob("generate-*.partial/samples.jsonl.partial"))
        return found[0] if found else steps / "none"

    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, workers = time.time() + 60, set()
    while time.time() < deadline and proc.poll() is None:
        workers = children(proc.pid)
        if len(workers) >= 2 and started().exists():
            break
        time.sleep(0.02)
    assert proc.poll() is None and len(workers) >= 2, "the run was not caught with its workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not wait_gone(workers), "workers outlived their killed parent"
    subprocess.run(command, check=True, capture_output=True)
    resumed = digest(tmp_path / "out" / "samples.jsonl")
    (tmp_path / "clean").mkdir()
    (tmp_path / "clean" / "pipeline.yaml").write_text(text)
    subprocess.run(
        [sys.executable, "-m", "cookbook", "run", str(tmp_path / "clean" / "pipeline.yaml")],
        check=True,
        capture_output=True,
    )
    assert resumed == digest(tmp_path / "clean" / "out" / "samples.jsonl")
