"""``cookbook new template|task|scorer NAME``: a complete, installable plugin package (pyproject
with the ``cookbook`` entry point, the module, a test, a README); ``write-template`` writes its
packages with the same function, ``write_package``."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cookbook import CookbookError, get_registry
from cookbook_plugins.template_writing import package_files as files

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TEXTS = {
    "template": (files.TEMPLATE_MODULE, files.TEMPLATE_TEST),
    "task": (files.TASK_MODULE, files.TASK_TEST),
    "scorer": (files.SCORER_MODULE, files.SCORER_TEST),
}
_SUMMARIES = {
    "template": "A Cookbook template: {name}.",
    "task": "A Cookbook task: {name}.",
    "scorer": "A Cookbook alignment scorer: {name}.",
}


class Kind(StrEnum):
    """What a new package provides."""

    template = "template"
    task = "task"
    scorer = "scorer"


@dataclass(frozen=True)
class PackageNames:
    """The names of a package providing one component: the component and entry point
    ``name``, the ``distribution`` and the import ``module``."""

    name: str
    kind: str
    distribution: str
    module: str

    def fill(self, text: str, **more: str) -> str:
        """``text`` with its ``__NAME__``-style marks replaced."""
        marks = {
            "__DISTRIBUTION__": self.distribution,
            "__MODULE__": self.module,
            "__CLASS__": "".join(p.capitalize() for p in self.name.split("_")) + "Task",
            **{f"__{k.upper()}__": v for k, v in more.items()},
        }
        for mark, value in marks.items():
            text = text.replace(mark, value)
        return text.replace("__NAME__", self.name)


def package_names(name: str, kind: str = "template") -> PackageNames:
    """The names for component ``name`` (lower case letters, digits and underscores; a hyphen
    is read as an underscore), or one error saying what a name may be."""
    name = name.strip().replace("-", "_")
    if not _NAME.match(name):
        raise CookbookError(
            f"{kind} name {name!r}: use lower-case letters, digits and underscores, starting"
            " with a letter (it names the component, the plugin and the Python module)"
        )
    return PackageNames(
        name=name,
        kind=kind,
        distribution=f"cookbook-{kind}-{name.replace('_', '-')}",
        module=f"cookbook_{kind}_{name}",
    )


def check_free(names: PackageNames) -> None:
    """Refuse a name an installed plugin or component already uses (the package would clash
    with it once installed)."""
    registry = get_registry()
    plugin = registry.plugin(names.name)
    if plugin is not None:
        raise CookbookError(
            f"{names.kind} name {names.name!r}: the installed plugin {plugin.name!r}"
            f" (distribution {plugin.distribution}) already has that name; choose another"
        )
    if names.name in registry.names(f"{names.kind}s"):
        raise CookbookError(
            f"{names.kind} name {names.name!r}: an installed plugin already registers a"
            f" {names.kind} of that name; choose another"
        )


def ensure_free_folder(folder: Path) -> None:
    """Refuse a package folder that exists and is not empty."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise CookbookError(f"{folder}: exists and is not an empty folder; give a new one")


def write_package(
    folder: Path,
    names: PackageNames,
    *,
    module: str,
    test: str,
    readme: str,
    summary: str,
    artifacts: dict[str, str] | None = None,
) -> Path:
    """Write a package into ``folder`` (absent or empty): all of it or, on any failure,
    nothing. ``module`` is the component module's text, ``artifacts`` more files beside it."""
    folder = Path(folder)
    ensure_free_folder(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        package = staging / names.module
        (staging / "tests").mkdir()
        package.mkdir()
        summary = summary.replace('"', "'")
        (staging / "pyproject.toml").write_text(
            names.fill(files.PYPROJECT, summary=summary), encoding="utf-8"
        )
        (staging / "README.md").write_text(readme, encoding="utf-8")
        (package / "__init__.py").write_text(module, encoding="utf-8")
        for name, text in (artifacts or {}).items():
            (package / name).write_text(text, encoding="utf-8")
        (staging / "tests" / f"test_{names.name}.py").write_text(test, encoding="utf-8")
        if folder.exists():
            folder.rmdir()
        os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def readme_text(
    names: PackageNames, summary: str, extra: str = "", checked: str = "__init__.py"
) -> str:
    """The package README: what it is, how to install, use and test it, and ``extra``;
    ``checked`` is the file ``cookbook check-template`` checks."""
    usage = names.fill(files.USAGE[names.kind], checked=checked)
    text = names.fill(files.README, summary=summary, usage=usage)
    return text + (f"\n{extra.rstrip()}\n" if extra else "")


def new_package(kind: str, name: str, folder: Path | None = None) -> Path:
    """Scaffold a package providing a working example ``kind`` called ``name``."""
    names = package_names(name, kind)
    check_free(names)
    module, test = _TEXTS[kind]
    summary = _SUMMARIES[kind].format(name=names.name)
    return write_package(
        folder or Path(names.distribution),
        names,
        module=names.fill(module),
        test=names.fill(test, checked="__init__.py"),
        readme=readme_text(names, summary),
        summary=summary,
    )


def new_command(
    kind: Annotated[Kind, typer.Argument(help="What the package provides.")],
    name: Annotated[str, typer.Argument(help="The component's name (also the plugin's).")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Package folder (default: ./cookbook-KIND-NAME)."),
    ] = None,
) -> None:
    """Start a plugin package with a working example template, task or scorer: pyproject with
    the cookbook entry point, the module, a test and a README; pip install it and edit."""
    folder = new_package(kind.value, name, output)
    names = package_names(name, kind.value)
    typer.echo(f"wrote {folder}: pip install {folder} (then {names.module}/__init__.py is yours)")


def register(cli: typer.Typer) -> None:
    cli.command("new")(new_command)
