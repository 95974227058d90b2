"""The example third-party package installs with pip and works with no other step."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).parents[1] / "docs" / "examples" / "cookbook-template-reverse"


def test_installed_example_plugin_is_listed_and_generates(tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(EXAMPLE),
        ],
        check=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    listed = subprocess.run(
        [sys.executable, "-m", "cookbook", "list-plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["reverse"]["status"] == "ok"
    assert rows["reverse"]["version"] == "0.1.0"
    assert rows["reverse"]["components"]["templates"] == ["reverse"]

    out = tmp_path / "reverse.jsonl"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "cookbook",
            "generate",
            "reverse",
            "document_qa",
            "-n",
            "10",
            "-o",
            str(out),
            "--param",
            "reverse.length=6",
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    records = [json.loads(line) for line in out.read_text().splitlines()]
    reversed_ones = [r for r in records if r["template"] == "reverse"]
    assert len(reversed_ones) == 5
    for r in reversed_ones:
        words = r["slots"]["words"].split()
        assert len(words) == 6 and r["slots"]["answer"].split() == words[::-1]
        assert r["prompt"].startswith("Reverse the words: ")
