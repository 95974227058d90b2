"""What is checked: a Python module file, a plugin package folder or a spec file; and, inside
the sandbox only, importing it and collecting its templates."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cookbook.contract.errors import CookbookError

SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def candidate_kind(path: Path) -> str:
    """``module``, ``package`` or ``spec``; an error naming the path for anything else."""
    if not path.exists():
        raise CookbookError(f"{path}: no such file or folder")
    if path.is_dir():
        if not (path / "pyproject.toml").is_file():
            raise CookbookError(
                f"{path}: a folder to check must be a plugin package (with a pyproject.toml)"
            )
        return "package"
    if path.suffix == ".py":
        return "module"
    if path.suffix in SPEC_SUFFIXES:
        return "spec"
    raise CookbookError(
        f"{path}: check a Python module (.py), a plugin package folder or a template spec"
        f" ({', '.join(SPEC_SUFFIXES)})"
    )


class CandidateError(Exception):
    """The candidate cannot be loaded; the message says why, for the one who wrote it."""


@dataclass
class Loaded:
    """The templates a candidate exposes, and how it exposes them."""

    templates: list[Any] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


def load_candidate(path: Path, kind: str) -> Loaded:
    """Import the candidate (in the sandbox) and collect its templates."""
    if kind == "spec":
        return _load_spec(path)
    modules = _package_modules(path) if kind == "package" else [_import_file(path)]
    loaded = Loaded()
    for module, prefix in modules:
        _collect(module, prefix, loaded)
    return loaded


def _load_spec(path: Path) -> Loaded:
    import cookbook

    build = getattr(cookbook, "template_from_spec", None)
    if build is None:
        raise CandidateError(
            f"{path.name}: this Cookbook cannot read template specs (no"
            " cookbook.template_from_spec)"
        )
    try:
        template = build(path)
    except CookbookError as exc:
        raise CandidateError(f"{path.name}: not a valid template spec: {exc}") from None
    except Exception as exc:
        raise CandidateError(f"{path.name}: building its template failed: {describe(exc)}") from exc
    return Loaded([template], [f"spec {path.name}"])


def _import_file(path: Path) -> tuple[Any, str]:
    """Import a module file; a package's ``__init__.py`` as that package (so its relative
    imports work), under a name of its own."""
    if path.name == "__init__.py":
        name = f"cookbook_candidate_{path.parent.name}"
        spec = importlib.util.spec_from_file_location(
            name, path, submodule_search_locations=[str(path.parent)]
        )
    else:
        name = f"cookbook_candidate_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CandidateError(f"{path.name}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.append(str(path.parent))  # its sibling modules, after everything installed
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:  # noqa: BLE001 - any failure is the candidate's
        if isinstance(exc, (KeyboardInterrupt, MemoryError)):
            raise
        raise CandidateError(f"importing {path.name} failed: {describe(exc)}") from exc
    return module, name


def _package_modules(folder: Path) -> list[tuple[Any, str]]:
    import tomllib

    try:
        project = tomllib.loads((folder / "pyproject.toml").read_text())
    except (OSError, ValueError) as exc:
        raise CandidateError(f"pyproject.toml: cannot be read: {exc}") from None
    entry_points = project.get("project", {}).get("entry-points", {}).get("cookbook", {})
    if not isinstance(entry_points, dict) or not entry_points:
        raise CandidateError(
            "pyproject.toml declares no [project.entry-points.cookbook] entry point, so Cookbook"
            ' would never load this plugin: add one, e.g. my_plugin = "my_plugin"'
        )
    for root in (folder / "src", folder):
        if root.is_dir():
            sys.path.insert(0, str(root))
    modules = []
    for plugin, target in entry_points.items():
        module_name, _, attribute = str(target).partition(":")
        try:
            module = importlib.import_module(module_name.strip())
            if attribute:
                module = getattr(module, attribute.strip())
        except BaseException as exc:  # noqa: BLE001 - any failure is the candidate's
            if isinstance(exc, (KeyboardInterrupt, MemoryError)):
                raise
            raise CandidateError(
                f"entry point {plugin} = {target!r}: importing it failed: {describe(exc)}"
            ) from exc
        modules.append((module, module_name.split(".")[0].strip()))
    return modules


def _collect(module: Any, prefix: str, loaded: Loaded) -> None:
    """Module-level templates defined by the candidate, and those its ``register_templates``
    hookimpl registers."""
    from cookbook.contract.templates import Template

    label = getattr(module, "__name__", prefix).removeprefix("cookbook_candidate_")
    for value in list(vars(module).values()):
        fresh = all(value is not t for t in loaded.templates)
        if isinstance(value, Template) and _defined_in(value, prefix) and fresh:
            loaded.templates.append(value)
            loaded.sources.append(f"module-level template {value.name!r} in {label}")
    hook = getattr(module, "register_templates", None)
    if hook is None:
        return
    if not callable(hook):
        raise CandidateError(f"{label}: register_templates must be a function")
    if not hasattr(hook, "cookbook_impl"):
        raise CandidateError(
            f"{label}: register_templates is not marked @cookbook.hookimpl, so Cookbook would"
            " never call it: decorate it with @hookimpl (from cookbook import hookimpl)"
        )
    found: list[Any] = []
    try:
        hook(found.append)
    except TypeError as exc:
        raise CandidateError(
            f"{label}: register_templates(register) failed: {describe(exc)}; it receives one"
            " argument, register, and calls register(template) for each template"
        ) from exc
    except Exception as exc:
        raise CandidateError(f"{label}: register_templates failed: {describe(exc)}") from exc
    for value in found:
        if not isinstance(value, Template):
            raise CandidateError(
                f"{label}: register_templates registered {type(value).__name__} {value!r:.80},"
                " not a cookbook.Template (make templates with @cookbook.template)"
            )
        if all(value is not t for t in loaded.templates):
            loaded.templates.append(value)
            loaded.sources.append(f"template {value.name!r} registered by {label}")


def _defined_in(template: Any, prefix: str) -> bool:
    module = getattr(template.generate, "__module__", None) or ""
    return module == prefix or module.startswith(prefix + ".")


def describe(exc: BaseException) -> str:
    """An exception as a writer can act on it: its type and message, and where in the
    candidate's own code it happened (file, line and the line's text)."""
    if isinstance(exc, SyntaxError):
        where = f"{Path(exc.filename or '?').name}, line {exc.lineno}"
        text = (exc.text or "").rstrip("\n")
        caret = ""
        if text and exc.offset:
            stripped = text.lstrip()
            caret = "\n    " + " " * max(0, exc.offset - 1 - (len(text) - len(stripped))) + "^"
            text = stripped
        shown = f"\n    {text}{caret}" if text else ""
        return f"{type(exc).__name__} at {where}: {exc.msg}{shown}"
    message = str(exc) or "(no message)"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _own(f.filename)]
    where = ""
    if frames:
        last = frames[-1]
        where = f" at {Path(last.filename).name}, line {last.lineno}"
        if last.line:
            where += f" ({last.line.strip()})"
    return f"{type(exc).__name__} ({message}){where}"


#: Folders of the candidate's own code, set by the child before importing it.
CANDIDATE_ROOTS: list[str] = []


def _own(filename: str) -> bool:
    return any(filename.startswith(root) for root in CANDIDATE_ROOTS)
