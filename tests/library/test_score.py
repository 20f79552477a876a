"""`aecli score` and Model.score_samples / score_table: anomaly scores per row and image."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import aecli
from aecli.data.adapter import split_rows
from conftest import FIXTURES, SAMPLE, invoke

DATA = FIXTURES


@pytest.fixture(scope="module")
def cancer() -> tuple[aecli.Model, pd.DataFrame]:
    """A small model of the breast-cancer table (569 rows: 114 held out for validation)."""
    frame = pd.read_csv(SAMPLE / "breast_cancer.csv").drop(columns=["target"], errors="ignore")
    model = aecli.train(frame, steps=300, hidden=(32,), latent_dim=4, seed=0)
    return model, frame


@pytest.fixture(scope="module")
def penguins_vae() -> aecli.Model:
    return aecli.train(SAMPLE / "penguins.csv", kind="vae", steps=200, hidden=(16,), seed=0)


def _outlier_frame(frame: pd.DataFrame, column: str, row: int = 7) -> pd.DataFrame:
    planted = frame.copy()
    planted.loc[row, column] = frame[column].mean() + 12 * frame[column].std()
    return planted


def test_rows_keep_their_order_count_and_ids(tmp_path: Path, runner: CliRunner, shared_model):
    wine = pd.read_csv(SAMPLE / "wine.csv")
    wine.insert(0, "id", [f"w{i}" for i in range(len(wine))])
    shuffled = wine.sample(frac=1.0, random_state=1).reset_index(drop=True)
    wine.to_csv(tmp_path / "w.csv", index=False)
    shuffled.to_csv(tmp_path / "s.csv", index=False)
    for name in ("w", "s"):
        result = invoke(
            runner, "score", shared_model, tmp_path / f"{name}.csv", "--keep", "id",
            "-o", tmp_path / f"{name}-scores.csv", "--quiet",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
    plain = pd.read_csv(tmp_path / "w-scores.csv")
    mixed = pd.read_csv(tmp_path / "s-scores.csv")
    assert list(plain.columns) == ["id", "score", "percentile", "outlier"]
    assert plain["id"].tolist() == wine["id"].tolist()
    assert mixed["id"].tolist() == shuffled["id"].tolist()
    by_id = plain.set_index("id")["score"]
    assert np.allclose(mixed["score"], by_id[mixed["id"]].to_numpy(), rtol=1e-5)
    assert plain["score"].nunique() > len(plain) // 2


def test_validation_rows_have_uniform_percentiles(cancer):
    model, frame = cancer
    _, val = split_rows(len(frame), model.options.val_fraction, model.options.seed)
    table = model.score_table(frame.iloc[val].reset_index(drop=True))
    ranks = np.sort(table["percentile"].to_numpy())
    expected = 100 * np.arange(1, len(val) + 1) / len(val)
    assert np.abs(ranks - expected).max() < 1e-6 * 100 + 1e-9
    stats = model.metrics["score"]
    assert stats["split"] == "validation" and stats["rows"] == len(val)
    assert stats["threshold"] == pytest.approx(np.quantile(table["score"], 0.99), rel=1e-4)


@pytest.mark.parametrize("method", ["likelihood", "reconstruction"])
def test_a_planted_outlier_scores_top_and_is_explained(cancer, method):
    model, frame = cancer
    column = "mean_texture"
    table = model.score_table(_outlier_frame(frame, column), method=method, explain=3)
    assert table["score"].idxmax() == 7
    assert table.loc[7, "outlier"] == 1
    assert table.loc[7, "explain1"] == column
    assert table.loc[7, "explain1_share"] > 0.5
    shares = table[[f"explain{i}_share" for i in (1, 2, 3)]].to_numpy()
    assert (np.diff(shares, axis=1) <= 1e-7).all()  # the most surprising column first


def test_scores_use_student_t_residuals_and_older_checkpoints_keep_their_gaussian(cancer):
    from aecli.scoring import RESIDUALS, settings_for

    model, frame = cancer
    assert model.metrics["score"]["residuals"] == RESIDUALS
    assert settings_for(model, None, 1, False, 0).dof is not None
    planted = _outlier_frame(frame, "mean_texture")
    new = model.score_table(planted)
    old = aecli.Model(
        model.options, model.adapter, model.net, model.history,
        {**model.metrics, "score": {k: v for k, v in model.metrics["score"].items()
                                    if k != "residuals"}},
        model.extras,
    )  # fmt: skip
    assert settings_for(old, None, 1, False, 0).dof is None  # calibrated as it was written
    legacy = old.score_table(planted)
    assert not np.allclose(legacy["score"], new["score"])
    assert legacy["score"].idxmax() == new["score"].idxmax() == 7


def test_contamination_flags_about_that_share(cancer):
    model, frame = cancer
    _, val = split_rows(len(frame), model.options.val_fraction, model.options.seed)
    held = frame.iloc[val].reset_index(drop=True)
    for share in (0.1, 0.25):
        flagged = model.score_table(held, contamination=share)["outlier"].mean()
        assert abs(flagged - share) <= 0.02
    everything = model.score_table(frame, contamination=0.1)["outlier"].mean()
    assert 0.02 <= everything <= 0.2  # training rows fit better than held-out ones
    table = model.score_table(frame, threshold=0.0)
    assert table["outlier"].tolist() == (table["score"] > 0).astype(int).tolist()


def test_score_samples_follow_scikit_learn_higher_is_normal(cancer):
    model, frame = cancer
    table = model.score_table(frame)
    assert np.allclose(model.score_samples(frame), -table["score"].to_numpy())


def test_categories_and_missing_cells_are_scored(penguins_vae):
    frame = pd.read_csv(SAMPLE / "penguins.csv")
    assert frame.isna().any().any()
    for method in ("likelihood", "reconstruction"):
        table = penguins_vae.score_table(frame, method=method, explain=2)
        assert len(table) == len(frame)
        assert np.isfinite(table["score"]).all(), method
    fast = penguins_vae.score_table(frame, fast=True)
    assert np.isfinite(fast["score"]).all() and "percentile" not in fast.columns
    again = penguins_vae.score_table(frame, seed=0)
    assert again["score"].equals(penguins_vae.score_table(frame, seed=0)["score"])
    figures = penguins_vae.evaluate(frame, importance_samples=5)
    assert np.isfinite(figures.iwae_log_likelihood) and np.isfinite(figures.elbo)


def test_a_rare_category_is_flagged(penguins_vae):
    frame = pd.read_csv(SAMPLE / "penguins.csv").dropna().reset_index(drop=True)
    odd = frame.copy()
    odd.loc[3, "island"] = "Biscoe" if odd.loc[3, "island"] != "Biscoe" else "Dream"
    odd.loc[3, "species"] = "Chinstrap" if odd.loc[3, "species"] != "Chinstrap" else "Gentoo"
    odd.loc[3, "flipper_length_mm"] = 260.0
    base = penguins_vae.score_table(frame)["percentile"][3]
    table = penguins_vae.score_table(odd)
    assert table["percentile"][3] > max(base, 95.0)


def test_an_old_checkpoint_scores_without_percentiles(tmp_path: Path, runner: CliRunner):
    old = DATA / "format1-penguins.safetensors"
    result = invoke(runner, "score", old, SAMPLE / "penguins.csv", "-o", tmp_path / "s.csv")
    assert result.exit_code == 0, result.stderr
    assert "no percentile" in result.stderr
    table = pd.read_csv(tmp_path / "s.csv")
    assert list(table.columns) == ["score", "outlier"] and len(table) == 344
    refused = invoke(runner, "score", old, SAMPLE / "penguins.csv", "--method", "likelihood")
    assert refused.exit_code == 2 and "--method reconstruction" in refused.stderr


def test_an_image_folder_is_scored_with_heatmaps(tmp_path: Path, runner: CliRunner):
    folder = tmp_path / "digits"
    folder.mkdir()
    for src in sorted((SAMPLE / "mnist").glob("*.png"))[:60]:
        shutil.copy(src, folder / src.name)
    model = tmp_path / "m.safetensors"
    trained = invoke(
        runner, "train", folder, "-o", model, "--steps", "30", "--conv", "4,8", "--quiet"
    )
    assert trained.exit_code == 0, trained.stderr
    result = invoke(
        runner, "score", model, folder, "-o", tmp_path / "s.csv", "--heatmaps", tmp_path / "maps"
    )
    assert result.exit_code == 0, result.stderr
    table = pd.read_csv(tmp_path / "s.csv")
    assert table["path"].tolist() == [p.as_posix() for p in sorted(folder.glob("*.png"))]
    assert np.isfinite(table["score"]).all() and {"percentile", "outlier"} <= set(table.columns)
    maps = sorted(p.name for p in (tmp_path / "maps").glob("*.png"))
    assert maps == sorted(p.name for p in folder.glob("*.png"))
    refused = invoke(runner, "score", model, folder, "--explain", "2", "-o", tmp_path / "e.csv")
    assert refused.exit_code == 2 and "--heatmaps" in refused.stderr
    # images score by reconstruction by default (the validation scores too); likelihood on request
    assert aecli.load(model).metrics["score"]["method"] == "reconstruction"
    asked = invoke(
        runner, "score", model, folder, "--method", "likelihood", "--json", "-o", tmp_path / "l.csv"
    )
    assert asked.exit_code == 0 and json.loads(asked.stdout)["method"] == "likelihood"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--contamination", "1.5"], "between 0 and 1"),
        (["--contamination", "0.1", "--threshold", "3"], "not both"),
        (["--fast"], "VAE"),
        (["--method", "mahalanobis"], "reconstruction, likelihood"),
        (["--heatmaps", "maps"], "images"),
    ],
)
def test_score_mistakes_get_one_line_and_exit_2(runner: CliRunner, shared_model, args, words):
    result = invoke(runner, "score", shared_model, SAMPLE / "wine.csv", *args)
    assert result.exit_code == 2
    assert words in result.stderr and "Traceback" not in result.stderr


def test_summaries_show_the_validation_scores_and_threshold(runner: CliRunner, shared_model):
    shown = invoke(runner, "inspect", shared_model)
    assert shown.exit_code == 0 and "anomaly scores" in shown.stdout
    assert "outlier threshold" in shown.stdout
    figures = invoke(runner, "evaluate", shared_model, SAMPLE / "wine.csv", "--json")
    scores = json.loads(figures.stdout)["scores"]
    assert scores["rows"] == 178 and scores["method"] == "likelihood"
    assert scores["quantiles"]["q50"] <= scores["quantiles"]["q99"]
    assert 0 <= scores["above_threshold"] <= 178


def test_the_training_summary_reports_score_quantiles(tmp_path: Path, runner: CliRunner):
    result = invoke(
        runner, "train", SAMPLE / "wine.csv", "-o", tmp_path / "m.safetensors",
        "--steps", "50", "--hidden", "8", "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    scores = json.loads(result.stdout)["scores"]
    assert scores["split"] == "validation" and scores["rows"] == 18
    assert scores["threshold"] == pytest.approx(scores["quantiles"]["q99"])


def test_the_likelihood_keeps_its_own_code_density_through_a_checkpoint(cancer, tmp_path: Path):
    """The score keeps BIC's mixture made spherical, also where the sample choice replaced the
    code density; a checkpoint without the score's own density scores with `density`."""
    from aecli.parts.density import fit_code_density, spherical
    from aecli.scoring import fit_score_extras, score_density

    model, frame = cancer
    x = model.adapter.read(frame).x
    train_rows, val_rows = split_rows(len(x), 0.2, 0)
    own = model.extras["density"]
    model.extras["density"] = fit_code_density(model.encode(frame).to_numpy(), 0, "kde")
    try:
        _, figures = fit_score_extras(model, (x[train_rows], None), (x[val_rows], None), 0, own)
        assert figures["code_density"] == "spherical"
        np.testing.assert_array_equal(score_density(model)["means"], own["means"])
        loaded = aecli.load(model.save(tmp_path / "m.safetensors"))
        shaped = score_density(loaded)["covariances"]
        np.testing.assert_array_equal(shaped, spherical(own)["covariances"])
        k = shaped.shape[-1]
        np.testing.assert_allclose(  # the same total variance, spread evenly
            shaped,
            np.trace(own["covariances"], axis1=1, axis2=2)[:, None, None] / k * np.eye(k),
            rtol=1e-6,
        )
        again = loaded.score_table(frame)["score"].to_numpy()
        np.testing.assert_allclose(again, model.score_table(frame)["score"].to_numpy(), rtol=1e-5)
        kde = model.extras["density"]
        for name in ("code_weights", "code_means", "code_covariances"):
            del model.extras["score"][name]  # as written before the score kept its own density
        model.extras["density"] = own
        full = model.score_table(frame)["score"].to_numpy()
        model.extras["density"] = {**own, "covariances": shaped}
        np.testing.assert_allclose(again, model.score_table(frame)["score"].to_numpy(), rtol=1e-5)
        assert not np.allclose(again, full)
        model.extras["density"] = kde
        assert not np.allclose(again, model.score_table(frame)["score"].to_numpy())
    finally:
        model.extras["density"] = own
        fit_score_extras(model, (x[train_rows], None), (x[val_rows], None), 0)


def test_a_row_larger_in_every_correlated_column_scores_top():
    """Four columns measure one size; a row 3.5 SD out in all four outscores every normal row
    and a row 4 SD out in one independent column. The full-covariance code mixture (kept by
    checkpoints written before it was made spherical) whitens the size direction and ranks
    the independent outlier above it."""
    from aecli.scoring import CODE

    rng = np.random.default_rng(0)
    size, e, g = np.clip(rng.normal(size=(3, 400)), -2.5, 2.5)  # no natural extremes
    frame = pd.DataFrame({c: size + 0.1 * rng.normal(size=400) for c in "abcd"})
    frame["e"], frame["g"] = e, g
    model = aecli.train(frame, steps=200, hidden=(16,), latent_dim=3, seed=0)
    sd = frame.std()
    planted = frame.copy()
    planted.loc[7] = [3.5 * sd["a"]] * 4 + [0.0, 0.0]
    planted.loc[8] = [0.0] * 4 + [4 * sd["e"], 0.0]
    table = model.score_table(planted)
    assert table["score"].idxmax() == 7
    assert table.loc[7, "outlier"] == 1
    assert table.loc[7, "score"] > table.loc[8, "score"]
    kept = model.extras["score"]
    model.extras["score"] = {k: v for k, v in kept.items() if not k.startswith(CODE)}
    legacy = model.score_table(planted)["score"]  # the mixture with full covariances
    assert legacy[8] > legacy[7]
