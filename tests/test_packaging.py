"""The distribution ships every package and plugin module of the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_core_package_is_listed_for_setuptools():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cookbook").rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_every_entry_point_names_a_builtin_module_that_exists():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name, target in config["project"]["entry-points"]["cookbook"].items():
        module = target.split(":")[0].removeprefix("cookbook_plugins.")
        assert (ROOT / "plugins" / f"{module}.py").exists(), name
