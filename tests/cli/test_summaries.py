"""Honest summaries (issues 11 item 7 and 13 items 5-7, 10, 12): typed results behind both the
human and the --json outputs of `train` and `evaluate`, sizes in the user's columns, no ratio
against a meaningless baseline, a warning for tiny data, and the step budget honoured."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aecli.results import EvaluationFigures, FeatureFigure, TrainingMetrics, meaningful_ratio
from conftest import FAST, SAMPLE, invoke

PENGUINS = SAMPLE / "penguins.csv"


@pytest.fixture(scope="module")
def penguin_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("penguins") / "p.safetensors"
    result = CliRunner().invoke(
        __import__("aecli.cli", fromlist=["app"]).app,
        ["train", str(PENGUINS), "-o", str(model), *FAST],
    )
    assert result.exit_code == 0, result.output
    return model


def test_evaluate_prints_its_human_table_for_a_table_with_categories(runner, penguin_model):
    result = invoke(runner, "evaluate", penguin_model, PENGUINS)
    assert result.exit_code == 0, result.stderr
    assert "species: label accuracy" in result.stdout
    assert "body_mass_g: MSE (data units)" in result.stdout
    assert "standardised units" in result.stdout


def test_evaluate_json_has_accuracy_for_categories_and_mse_for_numbers(runner, penguin_model):
    result = invoke(runner, "evaluate", penguin_model, PENGUINS, "--json")
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    by_name = {f["column"]: f for f in figures["per_feature"]}
    assert 0.5 <= by_name["species"]["model_accuracy"] <= 1
    assert by_name["body_mass_g"]["model_mse"] > 0
    assert figures["data"] == "table" and figures["rows"] == len(pd.read_csv(PENGUINS))


def test_the_default_code_size_counts_the_users_columns_not_one_hot_slots(runner, penguin_model):
    info = json.loads(invoke(runner, "inspect", penguin_model, "--json").stdout)
    assert info["architecture"]["n_features"] == 13  # 5 numbers + 3 + 2 + 3 one-hot slots
    # 8 user columns allow 7 codes; 6 principal components explain 95% of the variance
    assert info["architecture"]["latent_dim"] == 6


def test_train_summary_speaks_in_the_users_columns(tmp_path, runner):
    out = tmp_path / "p.safetensors"
    options = ["--steps", "40", "--hidden", "16"]
    result = invoke(runner, "train", PENGUINS, "-o", out, *options)
    assert result.exit_code == 0, result.stderr
    assert "8 columns (13 model inputs with categories one-hot) -> 6 codes" in result.stderr
    summary = json.loads(
        invoke(runner, "train", PENGUINS, "-o", out, "-f", "--json", "-q", *options).stdout
    )
    assert (summary["columns"], summary["model_width"], summary["latent_dim"]) == (8, 13, 6)


def test_tiny_data_is_warned_about_and_gets_no_ratio_against_a_zero_baseline(tmp_path, runner):
    data = tmp_path / "tiny.csv"
    pd.read_csv(PENGUINS).head(12).to_csv(data, index=False)
    out = tmp_path / "t.safetensors"
    wide = ["-k", "7"]  # 7 codes for 11 rows: PCA reconstructs them exactly
    result = invoke(runner, "train", data, "-o", out, "--steps", "30", "--hidden", "8", *wide)
    assert result.exit_code == 0, result.stderr
    assert "only 11 training rows" in result.stderr
    assert "% higher" not in result.stderr and "% lower" not in result.stderr
    assert "no comparison with PCA" in result.stderr
    summary = json.loads(
        invoke(
            runner, "train", data, "-o", out, "-f", "--json", "-q", "--steps", "30", *wide
        ).stdout
    )
    assert summary["ratio_to_pca"] is None
    assert any("only 11 training rows" in n for n in summary["notes"])


def test_without_held_out_rows_the_summary_does_not_repeat_the_training_error(tmp_path, runner):
    data = tmp_path / "nine.csv"
    pd.read_csv(SAMPLE / "wine.csv").head(9).to_csv(data, index=False)
    result = invoke(runner, "train", data, "-o", tmp_path / "m.safetensors", "--steps", "20")
    assert result.exit_code == 0, result.stderr
    assert "training rows (none held out)" in result.stderr
    assert "train 0." not in result.stderr


def test_the_step_budget_is_honoured_and_reported(tmp_path, runner):
    out = tmp_path / "w.safetensors"
    # wine: 160 training rows in batches of 128 make 2 steps an epoch; 6 steps are 3 epochs
    result = invoke(runner, "train", SAMPLE / "wine.csv", "-o", out, "--steps", "6", "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["epochs_run"], summary["steps_run"]) == (3, 6)
    assert "honoured exactly" in invoke(runner, "train", "--help").stdout


def test_a_ratio_is_only_taken_against_a_meaningful_baseline():
    assert meaningful_ratio(0.5, 1.0) == 0.5
    assert meaningful_ratio(0.009, 1e-17) is None
    assert meaningful_ratio(0.1, 0.0) is None
    assert meaningful_ratio(0.1, float("nan")) is None


def test_typed_results_round_trip_through_their_json_shape():
    metrics = TrainingMetrics("validation", 10, 2, 0.1, 0.2, 0.3, 0.66)
    assert TrainingMetrics.from_dict(metrics.to_dict()) == metrics
    figures = EvaluationFigures("vae", 5, "images", 0.01, per_feature=[])
    figures.per_feature.append(FeatureFigure("a", "accuracy", 0.9, 0.8))
    data = figures.to_dict()
    assert data["per_feature"] == [{"column": "a", "model_accuracy": 0.9, "pca_accuracy": 0.8}]
    assert "pixel" in data["units"] and figures["rows"] == 5


def test_image_evaluate_compares_like_with_like_and_speaks_of_images(tmp_path, runner):
    folder = tmp_path / "digits"
    folder.mkdir()
    for src in sorted((SAMPLE / "mnist").glob("*.png"))[:30]:
        shutil.copy(src, folder / src.name)
    model = tmp_path / "vae.safetensors"
    options = ["--kind", "vae", "-k", "2", "--steps", "10", "--conv", "4", "--quiet"]
    assert invoke(runner, "train", folder, "-o", model, *options).exit_code == 0
    result = invoke(runner, "evaluate", model, folder, "-K", "2", "--json")
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert "pca_log_likelihood" not in figures  # Gaussian PPCA beside Bernoulli pixels: withheld
    assert any("not comparable" in n for n in figures["notes"])
    human = invoke(runner, "evaluate", model, folder, "-K", "2")
    assert human.exit_code == 0, human.stderr
    assert "on 30 images" in human.stdout and "pixels" in human.stdout
    assert "rows" not in human.stdout and "standardised" not in human.stdout
