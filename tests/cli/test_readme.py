"""The README's command reference is the CLI's own --help, and its first commands stay true."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from conftest import invoke

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


def section_commands(title: str) -> list[str]:
    """The `aecli ...` lines of the indented command blocks in the README section `title`."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"\n### {title}\n", 1)[1].split("\n### ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    aecli ")]


def test_the_image_denoising_commands_run_as_written(tmp_path, monkeypatch, runner):
    (tmp_path / "sample_data").symlink_to(ROOT / "sample_data")
    monkeypatch.chdir(tmp_path)
    commands = section_commands("Denoising images")
    assert len(commands) == 5 and "--kind denoiser" in commands[0]
    for command in commands:
        result = invoke(runner, *shlex.split(command)[1:])
        assert result.exit_code == 0, f"{command}: {result.stderr}"
    for name in ("own.png", "self.png", "tuned.safetensors"):
        assert (tmp_path / name).is_file()
