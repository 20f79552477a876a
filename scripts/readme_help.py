"""Regenerate the `--help` blocks in README.md from the CLI itself (`--check` only compares).

python scripts/readme_help.py          # rewrite README.md
python scripts/readme_help.py --check  # exit 1 if README.md is stale
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from typer.testing import CliRunner

from aecli.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- help:(?P<cmd>[a-z ]*)-->\n```text\n)(?P<body>.*?)(```\n)", re.S)


def help_text(command: str) -> str:
    args = [*command.split(), "--help"]
    result = CliRunner(env={"COLUMNS": "100", "TERM": "dumb"}).invoke(app, args, terminal_width=100)
    return result.stdout


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + help_text(m.group("cmd")) + m.group(4), text)


def main() -> int:
    current = README.read_text()
    fresh = render(current)
    if "--check" in sys.argv:
        if fresh != current:
            print("README.md --help blocks are stale; run python scripts/readme_help.py")
            return 1
        return 0
    README.write_text(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
