"""``cookbook preview``: a few samples of a template, pretty-printed."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.panel import Panel
from rich.text import Text

from cookbook.cli.options import parse_params
from cookbook.cli.output import console, plain
from cookbook.contract.params import MAX_INTEGER
from cookbook.contract.tokens import DEFAULT_TOKEN_SPACE
from cookbook.engine.samples import SampleMaker
from cookbook.engine.token_spaces import resolve_token_space
from cookbook.registry import get_registry


def preview(
    template: Annotated[str, typer.Argument(help="Template name (plugin:name; a spec file).")],
    n: Annotated[int, typer.Option("-n", "--n", min=1, max=1000, help="How many samples.")] = 3,
    seed: Annotated[int, typer.Option(min=0, max=MAX_INTEGER, help="Random seed.")] = 0,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Template parameter KEY=VALUE (repeatable)."),
    ] = None,
    tokens: Annotated[
        str, typer.Option(help="Token space: pseudowords, tokenizer:MODEL, or a plugin's.")
    ] = DEFAULT_TOKEN_SPACE,
) -> None:
    """Show a few samples of TEMPLATE: slots, prompt and completion."""
    registry = get_registry()
    tpl = registry.get("templates", template)
    params = tpl.resolve(dict(parse_params(param)))
    maker = SampleMaker(tpl, template, params, seed, resolve_token_space(tokens, registry))
    out = console()
    for index in range(n):
        record = maker.record(index)
        body = Text()
        body.append(record["prompt"])
        body.append(record["completion"], style="bold green")
        slots = ", ".join(
            f"{k}={v!r}"
            for k, v in record["slots"].items()
            if not isinstance(v, str) or len(v) < 60
        )
        out.print(
            Panel(
                body,
                title=plain(record["id"]),
                subtitle=plain(slots) if slots else None,
                title_align="left",
            )
        )


def register(app: typer.Typer) -> None:
    app.command("preview")(preview)
