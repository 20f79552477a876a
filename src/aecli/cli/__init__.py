"""The command line: parse, call the library, print. Importing it loads no torch."""

from aecli.cli.app import app, main

__all__ = ["app", "main"]
