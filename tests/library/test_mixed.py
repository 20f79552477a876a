"""Real-world tables: categories, integers, identifiers and holes survive train, encode, decode
and denoise in their own types; edge-case columns get a defined result, never a traceback."""

from __future__ import annotations

import io
import shutil

import numpy as np
import pandas as pd
import pytest

import aecli
from aecli.api import split_rows
from conftest import SAMPLE, invoke

PENGUINS = SAMPLE / "penguins.csv"  # species, island, sex: text; year: int; holes in 5 columns


@pytest.fixture(scope="module")
def penguin_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("penguins")
    model = folder / "p.safetensors"
    from typer.testing import CliRunner

    result = invoke(CliRunner(), "train", PENGUINS, "-k", "3", "--steps", "800", "-o", model, "-q")
    assert result.exit_code == 0, result.stderr
    return model


def test_mixed_table_round_trips_with_its_schema(tmp_path, runner, penguin_model):
    original = pd.read_csv(PENGUINS)
    codes = tmp_path / "z.csv"
    assert invoke(runner, "encode", penguin_model, PENGUINS, "-o", codes).exit_code == 0
    decoded = pd.read_csv(io.StringIO(invoke(runner, "decode", penguin_model, codes).stdout))
    assert list(decoded.columns) == list(original.columns)
    for column in original.columns:  # numbers stay numbers, text stays text
        numeric = pd.api.types.is_numeric_dtype
        assert numeric(decoded[column]) == numeric(original[column]), column
    assert set(decoded["species"]) <= set(original["species"].dropna())
    assert pd.api.types.is_integer_dtype(decoded["year"])

    out, mask = tmp_path / "repaired.csv", tmp_path / "mask.csv"
    result = invoke(runner, "denoise", penguin_model, PENGUINS, "-o", out, "--mask-out", mask)
    assert result.exit_code == 0, result.stderr
    repaired = pd.read_csv(out)
    assert list(repaired.columns) == list(original.columns)
    assert not repaired.isna().any().any()
    for column in original.columns:  # every present cell exactly as it was
        present = original[column].notna()
        assert repaired[column][present].tolist() == original[column][present].tolist(), column
    assert pd.api.types.is_integer_dtype(repaired["year"])
    assert pd.read_csv(mask).to_numpy().sum() == original.isna().to_numpy().sum()
    probs = invoke(runner, "decode", penguin_model, codes, "--probabilities")
    columns = pd.read_csv(io.StringIO(probs.stdout)).columns
    assert {"species=Adelie", "species=Gentoo", "sex=female"} <= set(columns)


def test_categories_are_reconstructed_better_than_the_majority_class():
    frame = pd.read_csv(PENGUINS)
    train_rows, test_rows = split_rows(len(frame), 0.3, 0)
    model = aecli.train(frame.iloc[train_rows], latent_dim=3, steps=1500)
    held = frame.iloc[test_rows].reset_index(drop=True)
    recon = model.reconstruct(held)
    for column in ("species", "island", "sex"):
        seen = held[column].notna()
        accuracy = (recon[column][seen] == held[column][seen]).mean()
        majority = held[column][seen].value_counts(normalize=True).iloc[0]
        assert accuracy > majority, (column, accuracy, majority)


def test_edge_case_columns_have_defined_results(tmp_path, runner, penguin_model):
    frame = pd.read_csv(PENGUINS)
    unseen = frame.copy()
    unseen.loc[0, "island"] = "Atlantis"
    path = tmp_path / "unseen.csv"
    unseen.to_csv(path, index=False)
    result = invoke(runner, "encode", penguin_model, path)
    assert result.exit_code == 0
    assert "Atlantis" in result.stderr and "unseen" in result.stderr  # warned, treated as missing
    repaired = invoke(runner, "denoise", penguin_model, path)
    assert pd.read_csv(io.StringIO(repaired.stdout)).loc[0, "island"] == "Atlantis"  # unchanged

    edge = frame.copy()
    edge["constant"] = 7.0
    edge["single"] = np.nan
    edge.loc[5, "single"] = 1.5
    edge["empty"] = np.nan
    data = tmp_path / "edge.csv"
    edge.to_csv(data, index=False)
    empty = invoke(
        runner,
        "train",
        data,
        "-o",
        tmp_path / "e.safetensors",
        "--steps",
        "50",
        "--val-fraction",
        "0",
    )
    assert empty.exit_code == 2 and "'empty'" in empty.stderr and "--drop empty" in empty.stderr
    model = tmp_path / "ok.safetensors"
    ok = invoke(
        runner,
        "train",
        data,
        "--drop",
        "empty",
        "-o",
        model,
        "--steps",
        "200",
        "-q",
        "--val-fraction",
        "0",
    )
    assert ok.exit_code == 0, ok.stderr
    filled = pd.read_csv(io.StringIO(invoke(runner, "denoise", model, data).stdout))
    assert (filled["constant"] == 7.0).all()
    assert filled["single"].notna().all() and np.allclose(filled["single"], 1.5, atol=0.5)


def test_ids_pass_through_and_dates_are_refused(tmp_path, runner):
    frame = pd.read_csv(PENGUINS).dropna()
    frame.insert(0, "tag", [f"p{i}" for i in range(len(frame))])
    data = tmp_path / "tagged.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "t.safetensors"
    trained = invoke(runner, "train", data, "-o", model, "--steps", "100")
    assert (
        trained.exit_code == 0
        and "identifier" in trained.stderr
        and "--id-col tag" in trained.stderr
    )
    codes = pd.read_csv(io.StringIO(invoke(runner, "encode", model, data, "--keep", "tag").stdout))
    assert codes["tag"].tolist() == frame["tag"].tolist()
    dated = frame.assign(when=pd.date_range("2020-01-01", periods=len(frame)))
    dated.to_parquet(tmp_path / "dated.parquet")
    refused = invoke(runner, "train", tmp_path / "dated.parquet", "-o", tmp_path / "x.safetensors")
    assert refused.exit_code == 2 and "'when'" in refused.stderr and "dates" in refused.stderr
    shutil.rmtree(tmp_path, ignore_errors=True)
