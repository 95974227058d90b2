"""``cookbook list-plugins``: every plugin with its version, hooks, components and status."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from cookbook.cli.output import console, plain, safe
from cookbook.registry import get_registry


def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False,
) -> None:
    """List installed plugins, built-in and third-party, and what each provides."""
    registry = get_registry()
    if as_json:
        typer.echo(json.dumps([p.as_json() for p in registry.plugins], indent=2))
        return
    table = Table(title="Cookbook plugins")
    for column in ("plugin", "version", "hooks", "components", "status"):
        table.add_column(column, overflow="fold")
    for p in registry.plugins:
        components = "\n".join(
            f"{kind}: {', '.join(names)}" for kind, names in p.components.items() if names
        )
        status = Text(p.status, style="green" if p.status == "ok" else "red")
        table.add_row(
            plain(p.name), plain(p.version), plain("\n".join(p.hooks)), plain(components), status
        )
    out = console()
    out.print(table)
    for kind, name, owners in registry.clashes():
        out.print(
            f"[yellow]clash:[/] {kind} {safe(repr(name))} is registered by "
            + " and ".join(safe(f"{o.name} ({o.distribution})") for o in owners)
            + safe(f"; pick one as '{owners[0].name}:{name}'")
        )


def register(app: typer.Typer) -> None:
    app.command("list-plugins")(list_plugins)
