"""Shared fixtures: small real tables copied into a temporary folder, and a CLI runner."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aecli.cli import app

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
FIXTURES = Path(__file__).resolve().parent / "fixtures"  # small files kept with the tests
FAST = ["--steps", "300", "--hidden", "32", "--quiet"]  # quick models for behaviour tests


@pytest.fixture
def wine(tmp_path: Path) -> Path:
    target = tmp_path / "wine.csv"
    shutil.copy(SAMPLE / "wine.csv", target)
    return target


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str, input: str | bytes | None = None):
    """Run the CLI in process; returns Typer's Result (exit_code, stdout, stderr)."""
    return runner.invoke(app, [str(a) for a in args], input=input)


def train_model(runner: CliRunner, data: Path, model: Path, *options: str) -> Path:
    """`aecli train DATA -o MODEL OPTIONS --quiet`, asserting that it succeeds."""
    result = invoke(runner, "train", data, "-o", model, "--quiet", *options)
    assert result.exit_code == 0, result.stderr
    return model


@pytest.fixture
def wine_model(tmp_path: Path, wine: Path, runner: CliRunner) -> Path:
    model = tmp_path / "wine.safetensors"
    result = invoke(runner, "train", wine, "-k", "3", "-o", model, *FAST)
    assert result.exit_code == 0, result.output
    return model


@pytest.fixture(scope="session")
def shared_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small wine model (3 codes) for the whole session; tests must not modify it."""
    folder = tmp_path_factory.mktemp("shared")
    model = folder / "wine3.safetensors"
    result = CliRunner().invoke(
        app, ["train", str(SAMPLE / "wine.csv"), "-k", "3", "-o", str(model), *FAST]
    )
    assert result.exit_code == 0, result.output
    return model


def same_checkpoint(a: Path, b: Path) -> bool:
    """Two checkpoint files hold the same tensors (to the byte) and the same header, apart from
    the training time each records (history `seconds`)."""
    import json
    import re

    def parts(path: Path) -> tuple[bytes, str]:
        raw = path.read_bytes()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + n])
        text = json.dumps(header, sort_keys=True)
        return raw[8 + n :], re.sub(r'\\"seconds\\": [0-9.eE+-]+', "", text)

    return parts(a) == parts(b)


def mixed_table(n: int, seed: int, flags: bool = False) -> pd.DataFrame:
    """A generated table of every column type: an id, two correlated numbers (with three missing
    cells), a whole-number column, a category and (with `flags`) a boolean."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n)
    columns = {
        "id": [f"r{i:04d}" for i in range(n)],
        "a": a,
        "b": 2 * a + rng.normal(scale=0.3, size=n),
        "n": rng.integers(0, 9, n),
        "c": rng.choice(["x", "y", "z"], n),
    }
    if flags:
        columns["f"] = rng.choice([True, False], n)
    frame = pd.DataFrame(columns)
    frame.loc[[7, n // 2 + 33, n - 2], "b"] = np.nan
    return frame
