"""Shared fixtures: fresh plugin state per test and a way to fake installed distributions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from cookbook.registry import reset_registry


@pytest.fixture(autouse=True)
def fresh_plugins(monkeypatch):
    """Each test loads plugins anew, with no selection variables from the environment."""
    for var in ("COOKBOOK_LOAD_PLUGINS", "COOKBOOK_DISABLE_PLUGINS", "COOKBOOK_STRICT_PLUGINS"):
        monkeypatch.delenv(var, raising=False)
    reset_registry()
    yield
    reset_registry()


@pytest.fixture
def install_fake(tmp_path, monkeypatch):
    """Install a fake distribution (dist-info + module) on sys.path: ``install(dist, ep, code)``."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def install(dist: str, entry_point: str, code: str, module: str | None = None) -> Path:
        module = module or f"{dist.replace('-', '_')}_plugin"
        (site / f"{module}.py").write_text(textwrap.dedent(code))
        info = site / f"{dist.replace('-', '_')}-1.2.3.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
        (info / "entry_points.txt").write_text(f"[cookbook]\n{entry_point} = {module}\n")
        reset_registry()
        return site

    return install


ECHO_PLUGIN = """
from cookbook import hookimpl, template

@template(prompt="Echo: {words}", rule=lambda slots: slots["words"])
def echo(rng, tokens, length: int = 2):
    return {"words": tokens.text(rng, length)}

@hookimpl
def register_templates(register):
    register(echo)
"""


@pytest.fixture
def echo_plugin(install_fake):
    """A third-party template ``echo`` (its answer repeats its ``length`` words) installed."""
    return install_fake("cookbook-template-echo", "echo", ECHO_PLUGIN)
