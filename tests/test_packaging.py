"""The distribution ships every package and plugin module of the source tree."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_every_core_and_plugin_package_is_listed_for_setuptools():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "cookbook").rglob("__init__.py")
    }
    found |= {
        ".".join(("cookbook_plugins", *p.parent.relative_to(ROOT / "plugins").parts))
        for p in (ROOT / "plugins").rglob("__init__.py")
    }
    assert found <= listed, f"packages missing from pyproject.toml: {sorted(found - listed)}"


def test_every_entry_point_names_a_builtin_module_or_package_that_exists():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name, target in config["project"]["entry-points"]["cookbook"].items():
        path = ROOT / "plugins" / target.split(":")[0].removeprefix("cookbook_plugins.")
        assert path.with_suffix(".py").exists() or (path / "__init__.py").exists(), name


def test_every_builtin_plugin_package_has_an_entry_point():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    targets = set(config["project"]["entry-points"]["cookbook"].values())
    for path in (ROOT / "plugins").iterdir():
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").exists():
            assert f"cookbook_plugins.{path.stem}" in targets, path.name
