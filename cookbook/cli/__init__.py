"""The ``cookbook`` command line: one module per command in this package."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from cookbook.cli import eval as eval_cmd
from cookbook.cli import export, generate, list_plugins, mix, pipeline, preview, score, train
from cookbook.cli.output import console, safe
from cookbook.contract.errors import CookbookError
from cookbook.registry import call_hook, get_registry, plugin_manager, strict_plugins

app = typer.Typer(
    name="cookbook",
    help="Instruction-tuning data from programmatic templates over random tokens.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
err_console = console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from cookbook import __version__

        typer.echo(f"cookbook {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Instruction-tuning data from programmatic templates over random tokens."""


for module in (list_plugins, preview, generate, score, mix, pipeline, eval_cmd, train, export):
    module.register(app)


def _plugin_commands() -> None:
    """Let plugins add commands, once per process and plugin manager (``main`` may run many
    times in one process); a failing one is reported on its plugin, never fatal."""
    manager = plugin_manager()
    if getattr(app, "_cookbook_commands_from", None) is manager:
        return
    builtin = list(app.registered_commands)
    app.registered_commands[:] = builtin[: getattr(app, "_cookbook_builtin_commands", len(builtin))]
    app._cookbook_builtin_commands = len(app.registered_commands)  # type: ignore[attr-defined]
    call_hook(manager, get_registry(), "register_commands", cli=app)
    app._cookbook_commands_from = manager  # type: ignore[attr-defined]


INTERRUPTED = 130  # the exit status of a command stopped by Ctrl-C


def _is_usage_error(exc: BaseException) -> bool:
    """A click exception (typer bundles its own click, so the class is matched by its
    module): a bad option or argument, shown with its usage line."""
    return any(
        cls.__name__ == "ClickException" and cls.__module__.endswith("click.exceptions")
        for cls in type(exc).__mro__
    )


def main() -> None:
    """Entry point: run the CLI, turning ``CookbookError`` into one clear message."""
    try:
        if not (len(sys.argv) > 1 and sys.argv[1] == "--version"):
            _plugin_commands()  # --help lists the plugins' commands too
        # Without standalone mode typer returns the exit code of an Exit (130 for Ctrl-C,
        # which it turns into one) instead of raising it; commands themselves return None.
        code = app(standalone_mode=False)
        if code == INTERRUPTED:
            raise KeyboardInterrupt
        if isinstance(code, int) and code:
            sys.exit(code)
    except CookbookError as exc:
        err_console.print(f"[bold red]Error:[/] {safe(exc)}", soft_wrap=True)
        sys.exit(1)
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("[yellow]Interrupted.[/]")
        sys.exit(INTERRUPTED)
    except Exception as exc:  # usage errors of the command line, and the unexpected
        if _is_usage_error(exc):
            if type(exc).__name__ != "NoArgsIsHelpError":  # its help is already shown
                exc.show()  # type: ignore[attr-defined]
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        if os.environ.get("COOKBOOK_DEBUG") or strict_plugins():
            raise
        err_console.print(
            f"[bold red]Error:[/] {type(exc).__name__}: {safe(exc)}"
            " (set COOKBOOK_DEBUG=1 for the traceback)",
            soft_wrap=True,
        )
        sys.exit(1)
