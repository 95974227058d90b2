"""The import rules: plugins use only the public API and not each other; the core never
imports a plugin; the core's layers import only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cookbook
import cookbook.engine

ROOT = Path(__file__).parents[1]
PUBLIC = {
    "cookbook": {*cookbook.__all__, "engine"},  # from cookbook import engine: the module
    "cookbook.engine": set(cookbook.engine.__all__),
}
#: Each layer of the core and the layers it may import.
LAYERS = {
    "contract": set(),
    "specs": {"contract"},
    "registry": {"contract", "specs"},
    "engine": {"contract", "registry", "specs"},
    "pipeline": {"contract", "registry", "engine", "specs"},
    "cli": {"contract", "registry", "engine", "pipeline", "specs"},
}


def module_name(path: Path) -> str:
    """The import name of a module file under ``cookbook/`` or ``plugins/``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "plugins":
        parts[0] = "cookbook_plugins"
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of every import in ``path``, nested ones included; relative
    imports are made absolute."""
    found = []
    package = module_name(path) if path.is_relative_to(ROOT) else ""
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{module}" if module else base
            found.append((node.lineno, module, [alias.name for alias in node.names]))
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("path", modules("plugins"), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api_and_their_own_package(path):
    parts = path.relative_to(ROOT / "plugins").parts
    own = f"cookbook_plugins.{parts[0].removesuffix('.py')}" if len(parts) > 1 else None
    problems = []
    for line, module, names in imports(path):
        if module == "cookbook" or module.startswith("cookbook."):
            if module not in PUBLIC:
                problems.append(f"{line}: imports {module}, which is not public API")
                continue
            private = [n for n in names if n not in PUBLIC[module]]
            if private:
                problems.append(f"{line}: {module} does not export {', '.join(private)}")
        elif module.startswith("cookbook_plugins") and not (
            own is not None and (module == own or module.startswith(own + "."))
        ):
            problems.append(f"{line}: imports another plugin, {module}")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", modules("cookbook"), ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_plugin_and_its_layers_import_downwards(path):
    parts = path.relative_to(ROOT / "cookbook").parts
    layer = parts[0] if len(parts) > 1 else None
    problems = []
    for line, module, _ in imports(path):
        if module.startswith("cookbook_plugins"):
            problems.append(f"{line}: the core imports the plugin {module}")
        target = module.split(".")
        if layer is None or target[0] != "cookbook" or len(target) < 2:
            continue
        if target[1] in LAYERS and target[1] != layer and target[1] not in LAYERS[layer]:
            problems.append(f"{line}: the {layer} layer imports {module}")
    assert not problems, f"{path.relative_to(ROOT)}:\n" + "\n".join(problems)


def test_the_rules_catch_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from cookbook.engine.models import load_model\nimport cookbook_plugins.qa\n")
    assert [m for _, m, _ in imports(bad)] == ["cookbook.engine.models", "cookbook_plugins.qa"]
    assert "cookbook.engine.models" not in PUBLIC


def test_relative_imports_are_made_absolute():
    steps = ROOT / "plugins" / "steps" / "mix.py"
    assert module_name(steps) == "cookbook_plugins.steps.mix"
    probe = ROOT / "plugins" / "steps" / "_probe_relative.py"
    probe.write_text("from ..qa import squad_task\nfrom . import common\n")
    try:
        assert [m for _, m, _ in imports(probe)] == [
            "cookbook_plugins.qa",
            "cookbook_plugins.steps",
        ]
    finally:
        probe.unlink()
