"""The command line as a user runs it: help, version, preview, generate, clear errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def cookbook(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cookbook", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_help_and_version():
    result = cookbook("--help")
    assert result.returncode == 0
    for command in ("list-plugins", "preview", "generate"):
        assert command in result.stdout
    version = cookbook("--version")
    assert version.returncode == 0 and version.stdout.startswith("cookbook ")


def test_help_and_list_plugins_import_no_heavy_libraries():
    code = (
        "import sys; from cookbook import cli; from cookbook.registry import get_registry; "
        "get_registry(); "
        "print(sorted(m for m in ('torch', 'transformers', 'cvxpy', 'peft') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_preview_prints_samples():
    result = cookbook("preview", "document_qa", "-n", "2", "--param", "k=2", "--seed", "4")
    assert result.returncode == 0, result.stderr
    assert "document_qa-4-0" in result.stdout and "document_qa-4-1" in result.stdout
    assert "Question:" in result.stdout


def test_generate_writes_n_records(tmp_path):
    out = tmp_path / "data" / "s.jsonl"
    result = cookbook(
        "generate",
        "document_qa",
        "-n",
        "30",
        "--seed",
        "2",
        "-o",
        str(out),
        "--param",
        "document_qa.k=2",
        "--workers",
        "2",
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 30 and {r["seed"] for r in records} == {2}
    assert all(len(r["slots"]["answer"].split()) == 2 for r in records)
    assert "wrote 30 samples" in result.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["preview", "documnt_qa"], "unknown template 'documnt_qa'; did you mean 'document_qa'?"),
        (["preview", "document_qa", "--param", "k=three"], "template 'document_qa': k: 'three'"),
        (["preview", "document_qa", "--param", "k"], "--param 'k': expected KEY=VALUE"),
        (
            ["generate", "document_qa", "-n", "5", "-o", "OUT", "--param", "other.k=2"],
            "template 'other' is not being generated",
        ),
        (
            ["generate", "document_qa", "-n", "5", "-o", "OUT", "--format", "csv"],
            "unknown format 'csv'",
        ),
    ],
)
def test_bad_input_is_one_clear_line_without_traceback(tmp_path, args, message):
    args = [str(tmp_path / "out.jsonl") if a == "OUT" else a for a in args]
    result = cookbook(*args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.jsonl").exists()


def test_ctrl_c_during_generate_says_so_and_leaves_nothing(tmp_path):
    import signal
    import time

    out = tmp_path / "big.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "cookbook", "generate", "document_qa", "-n", "3000000",
         "-o", str(out), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        partial = tmp_path / "big.jsonl.partial"
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert partial.exists(), "generation did not start writing"
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()  # never leave a generation running (a no-op once it exited)
    assert process.returncode == 130
    assert "Interrupted." in stderr
    assert list(tmp_path.iterdir()) == []


def test_plugin_commands_are_added_once_however_often_the_cli_runs():
    from cookbook.cli import _plugin_commands, app
    from cookbook.registry import reset_registry

    _plugin_commands()
    names = [c.name for c in app.registered_commands]
    assert "export-task" in names and len(names) == len(set(names))
    _plugin_commands()
    reset_registry()  # a new plugin manager registers its commands again, not beside the old
    _plugin_commands()
    assert [c.name for c in app.registered_commands] == names
