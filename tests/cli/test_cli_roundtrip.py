"""train, encode, decode, inspect through the CLI: in process and via the installed script."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from conftest import FAST, invoke


def test_round_trip(tmp_path, wine, wine_model, runner):
    codes = tmp_path / "codes.csv"
    recon = tmp_path / "recon.csv"
    result = invoke(runner, "encode", wine_model, wine, "-o", codes)
    assert result.exit_code == 0, result.stderr
    z = pd.read_csv(codes)
    assert list(z.columns) == ["z1", "z2", "z3"]
    assert len(z) == len(pd.read_csv(wine))

    result = invoke(runner, "decode", wine_model, codes, "-o", recon)
    assert result.exit_code == 0, result.stderr
    original, back = pd.read_csv(wine), pd.read_csv(recon)
    assert list(back.columns) == list(original.columns)
    # back in original units: each column's reconstruction error is well below its spread
    rel = ((back - original) ** 2).mean() / original.var()
    assert rel.mean() < 0.6

    result = invoke(runner, "inspect", wine_model, "--json")
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["kind"] == "undercomplete"
    assert info["architecture"]["latent_dim"] == 3
    assert [c["name"] for c in info["schema"]["columns"]] == list(original.columns)
    assert info["metrics"]["pca_val_mse"] > 0
    assert info["history"]["records"][0]["epoch"] == 0
    human = invoke(runner, "inspect", wine_model)
    assert human.exit_code == 0 and "undercomplete" in human.stdout and "alcohol" in human.stdout


def test_encode_to_stdout_lines_up_with_rows_and_keeps_ids(tmp_path, wine, wine_model, runner):
    frame = pd.read_csv(wine)
    frame.insert(0, "id", [f"w{i}" for i in range(len(frame))])
    with_ids = tmp_path / "with_ids.csv"
    frame.to_csv(with_ids, index=False)
    result = invoke(runner, "encode", wine_model, with_ids, "--keep", "id")
    assert result.exit_code == 0, result.stderr
    out = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert list(out.columns) == ["id", "z1", "z2", "z3"]
    assert out["id"].tolist() == frame["id"].tolist()
    assert result.stderr == ""  # nothing but data on stdout, and quiet on stderr when piped


def test_stdin_input(wine, wine_model, runner):
    result = invoke(runner, "encode", wine_model, "-", input=wine.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "z1,z2,z3"
    assert len(result.stdout.splitlines()) == 1 + len(pd.read_csv(wine))


def test_train_json_summary_compares_with_pca(tmp_path, wine, runner):
    out = tmp_path / "m.safetensors"
    result = invoke(runner, "train", wine, "-k", "2", "-o", out, "--json", *FAST)
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("epochs_run", "train_mse", "val_mse", "pca_val_mse", "ratio_to_pca"):
        assert key in summary
    assert summary["val_mse"] <= summary["pca_val_mse"] * 1.0001  # starts at PCA, keeps the best
    assert out.exists()


def test_summary_on_stderr_names_pca(tmp_path, wine, runner):
    result = invoke(
        runner, "train", wine, "-k", "2", "-o", tmp_path / "m.safetensors", "--steps", "200"
    )
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "PCA with 2 components" in result.stderr and "x PCA" in result.stderr


def test_reordered_columns_encode_identically(tmp_path, wine, wine_model, runner):
    frame = pd.read_csv(wine)
    shuffled = tmp_path / "shuffled.csv"
    frame[list(reversed(frame.columns))].to_csv(shuffled, index=False)
    a = invoke(runner, "encode", wine_model, wine)
    b = invoke(runner, "encode", wine_model, shuffled)
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout


def test_missing_column_is_a_one_line_error(tmp_path, wine, wine_model, runner):
    partial = tmp_path / "partial.csv"
    pd.read_csv(wine).drop(columns=["proline"]).to_csv(partial, index=False)
    result = invoke(runner, "encode", wine_model, partial)
    assert result.exit_code == 2
    assert "proline" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_text_column_is_a_category_and_dropping_works(tmp_path, wine, runner):
    frame = pd.read_csv(wine)
    frame["grape"] = np.where(frame["alcohol"] > 13, "red", "white")
    mixed = tmp_path / "mixed.csv"
    frame.to_csv(mixed, index=False)
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", mixed, "-o", model, *FAST)
    assert result.exit_code == 0, result.stderr
    codes = invoke(runner, "encode", model, mixed, "-o", tmp_path / "z.csv")
    assert codes.exit_code == 0, codes.stderr
    back = pd.read_csv(io.StringIO(invoke(runner, "decode", model, tmp_path / "z.csv").stdout))
    assert set(back["grape"]) <= {"red", "white"}
    dropped = invoke(
        runner, "train", mixed, "--drop", "grape", "-o", tmp_path / "d.safetensors", *FAST
    )
    assert dropped.exit_code == 0, dropped.stderr


def test_installed_script_round_trip(tmp_path, wine):
    exe = shutil.which("aecli", path=os.path.dirname(sys.executable)) or shutil.which("aecli")
    assert exe, "the aecli console script is not installed"
    model = tmp_path / "m.safetensors"
    run = subprocess.run(
        [exe, "train", str(wine), "-k", "2", "-o", str(model), *FAST],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    run = subprocess.run([exe, "encode", str(model), str(wine)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert len(run.stdout.splitlines()) == 179
    module = subprocess.run(
        [sys.executable, "-m", "aecli", "--version"], capture_output=True, text=True
    )
    assert module.returncode == 0 and module.stdout.startswith("aecli ")


def test_help_does_not_import_torch():
    code = "import sys, aecli.cli; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_default_output_name_and_no_clobber(tmp_path, wine, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = invoke(runner, "train", wine, *FAST)
    assert first.exit_code == 0, first.stderr
    assert Path("wine.safetensors").exists()
    before = Path("wine.safetensors").read_bytes()
    again = invoke(runner, "train", wine, "--seed", "1", *FAST)
    assert again.exit_code == 2 and "--force" in again.stderr
    assert Path("wine.safetensors").read_bytes() == before
    forced = invoke(runner, "train", wine, "--seed", "1", "--force", *FAST)
    assert forced.exit_code == 0
    assert Path("wine.safetensors").read_bytes() != before
