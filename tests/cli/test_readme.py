"""The README's command reference is the CLI's own --help, and its first commands stay true."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_help_blocks_match_the_cli():
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "readme_help.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    test_command = readme.split("Run the tests")[1].split("\n\n")[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
