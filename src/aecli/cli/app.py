"""The command line: parse, validate, call the library, print. No torch at import time.

stdout carries data (codes, tables, --json summaries); stderr carries progress and messages.
A user's mistake is one line and exit code 2; an internal error exits 1, with the traceback only
under --debug or AECLI_DEBUG=1.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from aecli._version import __version__
from aecli.cli.messages import check_argument_order, usage_message
from aecli.cli.support import (
    say,
)
from aecli.errors import UserError

DEBUG_FLAG = "--debug"


def _debug_wanted(args: list[str]) -> bool:
    return DEBUG_FLAG in args or os.environ.get("AECLI_DEBUG", "") not in ("", "0")


def _stdout_is_devnull() -> bool:
    try:
        out, null = os.fstat(sys.stdout.fileno()), os.stat(os.devnull)
    except (OSError, ValueError):
        return False
    return (out.st_dev, out.st_ino) == (null.st_dev, null.st_ino)


# The order of `aecli --help`; a command not listed here comes after these.
COMMAND_ORDER = (
    "train",
    "encode",
    "decode",
    "denoise",
    "sample",
    "score",
    "evaluate",
    "inspect",
    "report",
)


class AecliGroup(TyperGroup):
    """Maps every failure to the promised exit code and a one-line message."""

    def list_commands(self, ctx: Any) -> list[str]:
        names = list(self.commands)
        return sorted(names, key=lambda n: COMMAND_ORDER.index(n) if n in COMMAND_ORDER else 99)

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = _debug_wanted(argv)
        argv = [a for a in argv if a != DEBUG_FLAG]  # accepted anywhere on the line
        extra["standalone_mode"] = False
        try:
            check_argument_order(argv)
            code = super().main(args=argv, prog_name=prog_name or "aecli", **extra)
        except UserError as exc:
            say(f"error: {exc}")
            code = exc.exit_code
        except BrokenPipeError:  # `aecli inspect m | head`: the reader left; end quietly
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            code = 0
        except SystemExit as exc:  # rich ends a broken pipe with exit(1) after muting stdout
            code = 0 if exc.code == 1 and _stdout_is_devnull() else exc.code
        except Exception as exc:
            if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a Click usage error
                say(usage_message(exc))
                code = exc.exit_code
            else:
                if debug:
                    traceback.print_exc()
                say(
                    f"error: internal error ({type(exc).__name__}: {exc}); "
                    + ("" if debug else "rerun with --debug for the traceback, and ")
                    + "please report it"
                )
                code = 1
        sys.exit(code if isinstance(code, int) else 0)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """One line per command that is never cut with '...' (see cli/messages.py)."""
        from aecli.cli.messages import command_rows

        rows = command_rows(self, ctx)
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


app = typer.Typer(
    cls=AecliGroup,
    name="aecli",
    help="Train autoencoders on tables and images: compress, reconstruct, denoise, generate.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"aecli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            DEBUG_FLAG,
            help="Show tracebacks of internal errors (also AECLI_DEBUG=1; any position).",
        ),
    ] = False,
) -> None:
    """aecli: autoencoders from the shell."""


def main() -> None:
    """Console-script entry point."""
    app()
