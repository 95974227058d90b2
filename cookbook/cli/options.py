"""Options shared by commands: ``--param KEY=VALUE`` and help that lists components'
parameters."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
import typer.core
from rich.markup import escape

from cookbook.contract.errors import CookbookError
from cookbook.contract.params import Params
from cookbook.pipeline.yamlfile import parse_assignments

ParamOption = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="A parameter KEY=VALUE (repeatable; VALUE is read as YAML: 3, 0.5, true, \\[a, b]).",
    ),
]

#: ``--engine``, ``--address`` and ``--shard-size``: where a command's work runs (``generate``,
#: ``score``); each command gives ``--shard-size`` its own default.
EngineOption = Annotated[
    str, typer.Option(help="local (this machine) or ray (Ray tasks over shards of the work).")
]
RayAddressOption = Annotated[
    str | None,
    typer.Option(help="--engine ray: a cluster (auto or HOST:PORT); default: a local Ray."),
]
ShardSizeOption = Annotated[
    int, typer.Option(min=1, help="--engine ray: samples (or records) per Ray task.")
]


def check_engine(engine: str) -> None:
    """An ``--engine`` other than local or ray is an error naming it."""
    if engine not in ("local", "ray"):
        raise CookbookError(f"--engine {engine}: choose local or ray")


def parse_params(items: list[str] | None, option: str = "--param") -> list[tuple[str, Any]]:
    """``["a.b=3"]`` -> ``[("a.b", 3)]``; a malformed item, or a value over the limits of a
    pipeline file, is an error naming it."""
    return parse_assignments(items, option)


def describe_params(params: Params) -> list[str]:
    """One line per parameter: name, type, default and description (Rich markup)."""
    lines = []
    for spec in params:
        schema = spec.schema
        kind = _type_name(schema)
        default = "" if "default" not in schema else f" = {json.dumps(schema['default'])}"
        text = f": {spec.description}" if spec.description else ""
        lines.append(f"  [bold]{spec.name}[/] " + escape(f"({kind}){default}{text}"))
    return lines


def _type_name(schema: dict[str, Any]) -> str:
    """A parameter's type in a few words: ``integer``, ``string or null``, ``one of "a", "b"``."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if isinstance(kind, list):
        return " or ".join(kind)
    if kind:
        return str(kind)
    options = schema.get("oneOf") or schema.get("anyOf")
    if options:
        return " or ".join(dict.fromkeys(_type_name(o) for o in options))
    return "any"


def components_help(kind: str, label: str) -> str:
    """Every registered component of ``kind`` with its parameters (loads the plugins)."""
    from cookbook.registry import get_registry

    registry = get_registry()
    blocks = []
    for name in registry.names(kind):
        try:
            component = registry.get(kind, name)
        except Exception:  # a clash: shown by list-plugins
            continue
        lines = describe_params(Params.of_component(component)) or ["  (no parameters)"]
        blocks.append("\n".join([f"[bold cyan]{label} {name}[/], its --param keys:", *lines]))
    return "\n\n".join(blocks)


def help_listing(kind: str, label: str) -> type[typer.core.TyperCommand]:
    """A command class whose ``--help`` ends with the parameters of every registered
    component of ``kind``, computed only when help is shown."""

    class Command(typer.core.TyperCommand):
        @property  # type: ignore[override]
        def epilog(self) -> str:
            return components_help(kind, label)

        @epilog.setter
        def epilog(self, value: Any) -> None:
            pass

    return Command
