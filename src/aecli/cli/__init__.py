"""The command line: parse, call the library, print. Importing it loads no torch.

Each command lives in a module of its own and registers itself on the one Typer `app`; the
order of the imports below is the order of `aecli --help`.
"""

from aecli.cli import (  # noqa: F401
    catalog,
    denoise,
    environment,
    info,
    report,
    sample,
    score,
    train,
    transform,
)
from aecli.cli.app import app, main

__all__ = ["app", "main"]
