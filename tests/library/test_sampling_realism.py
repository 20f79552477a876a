"""Generated rows look like the training rows: rare categories appear, values do not pile up at
the ends of the training range, whole-number columns stay whole (issue 18)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aecli
from aecli.data.ranges import into_range
from aecli.data.table_schema import Column


def _table(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    return pd.DataFrame(
        {
            "a": a,
            "b": a + 0.5 * rng.standard_normal(n),
            "uniform": rng.uniform(0, 10, n),  # no point mass at its ends
            "count": rng.poisson(2.0, n).astype(np.float64),  # whole numbers stored as floats
            "colour": rng.choice(["red", "blue", "green"], n, p=[0.62, 0.35, 0.03]),
        }
    )


@pytest.fixture(scope="module")
def trained() -> tuple[pd.DataFrame, aecli.Model]:
    frame = _table()
    return frame, aecli.train(frame, latent_dim=3, hidden=(32,), steps=1500, seed=0)


@pytest.fixture(scope="module")
def sampled(trained) -> tuple[pd.DataFrame, pd.DataFrame]:
    frame, model = trained
    return frame, model.sample(3000, seed=1)


def test_rare_categories_appear_at_about_their_training_frequency(sampled) -> None:
    frame, rows = sampled
    train = frame["colour"].value_counts(normalize=True)
    got = rows["colour"].value_counts(normalize=True).reindex(train.index, fill_value=0.0)
    assert train["green"] < 0.05
    assert 0.5 * train["green"] <= got["green"] <= 2 * train["green"], got
    np.testing.assert_allclose(got.to_numpy(), train.to_numpy(), atol=0.08)


def test_samples_do_not_pile_up_at_the_ends_of_the_training_range(sampled) -> None:
    frame, rows = sampled
    for name in ("a", "b", "uniform"):
        lo, hi = frame[name].min(), frame[name].max()
        assert rows[name].between(lo, hi).all()
        at_bounds = float(((rows[name] == lo) | (rows[name] == hi)).mean())
        assert at_bounds <= 2 / len(frame) + 0.005, (name, at_bounds)  # training: 2 rows of 600


def test_whole_number_columns_stay_whole(sampled) -> None:
    frame, rows = sampled
    assert rows["count"].dtype == np.float64  # the column's own type
    assert (rows["count"] == np.round(rows["count"])).all()
    assert rows["count"].nunique() >= 4
    assert rows["count"].min() >= 0
    share_zero = float((rows["count"] == 0).mean())  # a point mass at the low end is kept
    assert abs(share_zero - float((frame["count"] == 0).mean())) < 0.1


def test_into_range_reflects_past_an_end_and_clips_at_a_point_mass() -> None:
    col = Column("x", "float", 0.0, 1.0, 0.0, 10.0)
    values = np.array([-1.0, 0.0, 5.0, 10.0, 12.5, 25.0])
    np.testing.assert_allclose(into_range(values, col), [1.0, 0.0, 5.0, 10.0, 7.5, 5.0])
    zeros = Column("x", "float", 0.0, 1.0, 0.0, 10.0, at_min=0.2)
    np.testing.assert_allclose(into_range(values, zeros), [0.0, 0.0, 5.0, 10.0, 7.5, 5.0])


def test_old_schemas_without_the_new_fields_still_load() -> None:
    from aecli.data.tables import TableAdapter

    schema = TableAdapter.fit(_table(50))
    data = schema.to_dict()
    for column in data["columns"]:
        for field in ("whole", "at_min", "at_max", "decimals"):
            column.pop(field)
    loaded = TableAdapter.from_dict(data)
    assert [c.whole for c in loaded.columns] == [False] * 5
    assert [c.decimals for c in loaded.columns] == [None] * 5
    assert [c.whole for c in schema.columns] == [False, False, False, True, False]


def test_sample_defaults_are_chosen_on_validation_rows_stored_and_shown(
    trained, tmp_path, runner
) -> None:
    import json

    from conftest import invoke

    _, model = trained
    chosen = model.history["sampling"]
    assert chosen["source"] == "codes" and chosen["temperature"] == 1.0
    assert chosen["noise"] == "residuals"
    assert "two-sample AUC" in chosen["criterion"] and "validation rows" in chosen["criterion"]
    scores, screened = chosen["scores"], chosen["screened"]
    assert {"gmm", "gmm4", "kde"} <= set(screened)  # BIC's mixture (the old default) is one
    finalists = [name for name in scores if not name.endswith(" calibrated")]
    assert len(finalists) >= 2 and set(finalists) <= set(screened)  # the first fold's best two
    assert max(screened[n] for n in finalists) <= min(
        v for n, v in screened.items() if n not in finalists
    )
    assert chosen["score"] == min(scores.values())
    best = min(scores, key=scores.get).removesuffix(" calibrated")
    fitted = len(model.extras["density"]["weights"])
    mixture = f"gmm, {fitted} component{'s' if fitted > 1 else ''}"
    assert chosen["density"] == ("kde" if best == "kde" else mixture)
    kept = model.extras["sampling"]["residuals"]
    assert kept.shape[1] == model.n_features and 20 <= len(kept) <= 1000
    path = model.save(tmp_path / "m.safetensors")
    loaded = aecli.load(path)
    pd.testing.assert_frame_equal(loaded.sample(50, seed=3), model.sample(50, seed=3))
    shown = json.loads(invoke(runner, "inspect", path, "--json").stdout)
    assert shown["history"]["sampling"]["density"] == chosen["density"]
    words = " ".join(invoke(runner, "inspect", path).stdout.replace("│", " ").split())
    assert "training residual vectors added" in words and "two-sample AUC" in words
    hotter = model.sample(2000, seed=3, temperature=3.0)  # an explicit temperature wins
    assert hotter["a"].std() > model.sample(2000, seed=3)["a"].std()


def test_a_fixed_code_density_is_kept_and_old_noise_flags_still_sample() -> None:
    from aecli.sample_choice import add_noise

    model = aecli.train(_table(200), latent_dim=2, hidden=(16,), steps=200, components=3)
    chosen = model.history["sampling"]
    assert chosen["density"] == "gmm, 3 components"
    assert set(chosen.get("scores", {})) <= {"codes", "codes calibrated"}  # no other density
    assert len(model.extras["density"]["weights"]) == 3
    x = np.zeros((4000, 2), dtype=np.float32)
    extras = {"residual_sd": np.array([1.0, 0.0], np.float32), "residuals": np.ones((5, 2))}
    old = add_noise(x, extras, 0, True)  # a checkpoint from before the "residuals" choice
    assert abs(old[:, 0].std() - 1.0) < 0.05 and (old[:, 1] == 0).all()
    assert (add_noise(x, extras, 0, "residuals") == 1.0).all()
    assert (add_noise(x, extras, 0, "none") == x).all()


def test_an_image_vae_chooses_between_prior_and_codes_on_held_out_images(tmp_path):
    import shutil

    from conftest import SAMPLE

    for path in sorted((SAMPLE / "mnist").glob("*.png"))[:48]:
        shutil.copy(path, tmp_path / path.name)
    model = aecli.train(
        tmp_path, kind="vae", latent_dim=4, conv=(8,), steps=30, val_fraction=0.5, threads=1
    )
    chosen = model.history["sampling"]
    scores = chosen["scores"]
    assert set(scores) == {"prior", "codes"}
    assert chosen["source"] == min(scores, key=scores.get) and chosen["temperature"] == 1.0
    assert chosen["criterion"].startswith("energy distance to 24 validation images")
    by_default = model.sample_images(3, seed=2)
    by_choice = model.sample_images(3, seed=2, source=chosen["source"])
    assert [np.asarray(a).tolist() for a in by_default] == [
        np.asarray(b).tolist() for b in by_choice
    ]


def test_decimals_are_the_fewest_that_hold_every_training_value() -> None:
    from aecli.data.table_schema import decimals
    from aecli.data.table_statistics import NumericSums

    assert decimals(np.array([39.1, 40.0, np.nan, 41.7])) == 1
    assert decimals(np.array([0.125, 3.0])) == 3
    assert decimals(np.array([2.0, -5.0])) == 0
    assert decimals(np.array([39.1, 40.2], dtype=np.float32)) == 1  # a float32 file's 39.1
    assert decimals(np.array([0.1234567, 1.0])) is None  # past MAX_DECIMALS: not kept
    assert decimals(np.array([np.nan])) is None
    sums = NumericSums(3)  # streamed statistics: the most any block needs
    sums.add(np.array([[1.5, 2.0, 0.1234567], [2.0, np.nan, 1.0]]))
    sums.add(np.array([[1.25, np.nan, 2.0], [3.0, np.nan, 3.0]]))
    assert sums.decimals.tolist() == [2, 0, 7]


def test_sampled_floats_keep_the_training_decimals(tmp_path) -> None:
    rng = np.random.default_rng(0)
    n = 200
    length = np.round(40 + 5 * rng.standard_normal(n), 1)  # 39.1, as measured
    frame = pd.DataFrame(
        {
            "length": length,
            "ratio": np.round(length / 50 + 0.05 * rng.standard_normal(n), 3),
            "free": length + rng.standard_normal(n),  # full precision: as drawn
        }
    )
    frame.loc[3, "length"] = np.nan  # missing cells do not count
    model = aecli.train(frame, latent_dim=2, hidden=(16,), steps=200, seed=0, threads=1)
    assert [c.decimals for c in model.adapter.columns] == [1, 3, None]
    rows = model.sample(300, seed=1)
    assert (rows["length"] == np.round(rows["length"], 1)).all()  # 41.2, not 41.23456
    assert (rows["ratio"] == np.round(rows["ratio"], 3)).all()
    assert rows["length"].nunique() > 30 and rows["ratio"].nunique() > 100
    assert (rows["free"] != np.round(rows["free"], 4)).mean() > 0.9
    path = model.save(tmp_path / "m.safetensors")
    pd.testing.assert_frame_equal(aecli.load(path).sample(50, seed=2), model.sample(50, seed=2))
    old = aecli.load(path)  # a checkpoint from before the field: sampled as before
    data = old.adapter.to_dict()
    for column in data["columns"]:
        column.pop("decimals")
    old.adapter = type(old.adapter).from_dict(data)
    assert (old.sample(300, seed=1)["length"] != rows["length"]).mean() > 0.9
    from aecli.errors import CheckpointError

    data["columns"][0]["decimals"] = 9
    with pytest.raises(CheckpointError, match="malformed"):
        type(old.adapter).from_dict(data)
