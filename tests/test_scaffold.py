"""``cookbook new template|task|scorer``: the package installs with pip, its component is listed
and works, and the package's own test passes; bad names and folders are one clear error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_clean, cli


def pip_install(target: Path, *packages: Path) -> dict[str, str]:
    """Install ``packages`` into ``target`` (no dependencies, no network); the environment that
    sees them."""
    for package in packages:
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-build-isolation", "--target", str(target), str(package)],
            check=True,
            timeout=300,
        )  # fmt: skip
    return {**os.environ, "PYTHONPATH": str(target)}


def cookbook(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "cookbook", *args], capture_output=True, text=True, env=env
    )


def run_package_tests(env: dict[str, str], *folders: Path) -> subprocess.CompletedProcess:
    tests = [str(folder / "tests") for folder in folders]
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        capture_output=True,
        text=True,
        env=env,
        cwd=folders[0],
    )


def test_new_template_installs_is_listed_generates_and_its_test_passes(tmp_path):
    folder = tmp_path / "word-swap"
    code, output = cli("new", "template", "word_swap", "-o", str(folder))
    assert code == 0, output
    module = folder / "cookbook_template_word_swap" / "__init__.py"
    assert module.is_file() and (folder / "tests" / "test_word_swap.py").is_file()
    pyproject = (folder / "pyproject.toml").read_text()
    assert 'word_swap = "cookbook_template_word_swap"' in pyproject
    assert 'name = "cookbook-template-word-swap"' in pyproject

    env = pip_install(tmp_path / "site", folder)
    listed = cookbook(env, "list-plugins", "--json")
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["word_swap"]["status"] == "ok"
    assert rows["word_swap"]["distribution"] == "cookbook-template-word-swap"
    assert rows["word_swap"]["components"]["templates"] == ["word_swap"]

    out = tmp_path / "samples.jsonl"
    made = cookbook(env, "generate", "word_swap", "-n", "5", "-o", str(out), "-p", "length=6")
    assert made.returncode == 0, made.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 5
    for record in records:
        words = record["slots"]["words"].split()
        assert len(words) == 6 and record["slots"]["answer"].split() == words[::-1]

    tested = run_package_tests(env, folder)  # the sandboxed check, then the registry
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout


def test_new_task_and_scorer_packages_pass_their_own_tests(tmp_path):
    task, scorer = tmp_path / "task", tmp_path / "scorer"
    assert cli("new", "task", "jsonl_qa", "-o", str(task))[0] == 0
    assert cli("new", "scorer", "in_document", "-o", str(scorer))[0] == 0
    env = pip_install(tmp_path / "site", task, scorer)
    rows = {row["name"]: row for row in json.loads(cookbook(env, "list-plugins", "--json").stdout)}
    assert rows["jsonl_qa"]["components"]["tasks"] == ["jsonl_qa"]
    assert rows["in_document"]["components"]["scorers"] == ["in_document"]
    tested = run_package_tests(env, task, scorer)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "2 passed" in tested.stdout


@pytest.mark.parametrize(
    ("kind", "name", "expected"),
    [
        ("template", "Word Swap", "use lower-case letters, digits and underscores"),
        ("template", "qa", "the installed plugin 'qa' (distribution cookbook-llm)"),
        ("template", "document_qa", "already registers a template of that name"),
        ("task", "squad", "already registers a task of that name"),
    ],
)
def test_new_refuses_a_name_that_cannot_work(tmp_path, kind, name, expected):
    folder = tmp_path / "package"
    code, output = cli("new", kind, name, "-o", str(folder))
    assert code == 1
    assert expected in output
    assert_clean(output)
    assert not folder.exists()


def test_new_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "notes.txt").write_text("mine")
    code, output = cli("new", "template", "fresh", "-o", str(tmp_path / "taken"))
    assert code == 1 and "exists and is not an empty folder" in output
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["notes.txt"]
