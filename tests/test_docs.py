"""Docs stay in step with the code: every hook and command is documented; CI runs the README."""

from __future__ import annotations

import inspect
from pathlib import Path

import typer.main

from cookbook.cli import app
from cookbook.contract import hooks as hookspecs

ROOT = Path(__file__).parents[1]


def test_every_hook_is_documented():
    text = (ROOT / "docs" / "plugins.md").read_text()
    hooks = [
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if n.startswith("register_")
    ]
    assert hooks
    missing = [h for h in hooks if f"`{h}(" not in text]
    assert not missing, f"hooks missing from docs/plugins.md: {missing}"


def test_every_command_is_documented():
    text = (ROOT / "docs" / "cli.md").read_text()
    commands = typer.main.get_command(app).commands
    missing = [name for name in commands if f"`cookbook {name}" not in text]
    assert not missing, f"commands missing from docs/cli.md: {missing}"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_line = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert f"```bash\n{ci_line}\n```" in readme
