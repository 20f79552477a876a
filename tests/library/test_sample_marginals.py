"""Generated rows keep the training marginals: the quantile-map calibration chosen at training
time, and stratified (Latin hypercube) draws within one `sample` call (issue 18)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import ks_2samp

import aecli
from aecli.parts.density import sample_mixture, stratified_uniforms
from aecli.parts.marginals import apply_quantile_map, fit_quantile_map
from aecli.sampling import uniforms

PROBS = np.linspace(0.05, 0.95, 19)


def test_the_quantile_map_takes_drawn_quantiles_to_the_real_ones() -> None:
    rng = np.random.default_rng(0)
    real = np.column_stack([rng.lognormal(0.0, 0.8, 3000), rng.standard_normal(3000)])
    real[::7, 0] = np.nan  # missing cells are left out of the quantiles
    drawn = np.column_stack([rng.normal(1.0, 2.0, 4000), rng.normal(5.0, 1.0, 4000)])
    table = fit_quantile_map(drawn, real, np.array([True, False]))
    assert table["quantiles_to"].shape == (512, 2)
    assert np.isnan(table["quantiles_to"][:, 1]).all()  # not a calibrated column
    new = np.column_stack([rng.normal(1.0, 2.0, 20000), rng.normal(5.0, 1.0, 20000)])
    mapped = apply_quantile_map(new, table)
    want = np.nanquantile(real[:, 0], PROBS)
    np.testing.assert_allclose(np.quantile(mapped[:, 0], PROBS), want, rtol=0.06, atol=0.02)
    np.testing.assert_array_equal(mapped[:, 1], new[:, 1].astype(np.float32))  # as drawn
    order = np.argsort(new[:, 0])  # the map keeps each column's order (the joint structure)
    assert (np.diff(mapped[order, 0]) >= 0).all()
    knots = table["quantiles_from"][:, 0].astype(np.float64)
    far = np.array([[knots[-1] + 3.0, 0.0], [knots[0] - 2.0, 0.0]])
    ends = table["quantiles_to"][[-1, 0], 0] + np.array([3.0, -2.0])
    np.testing.assert_allclose(apply_quantile_map(far, table)[:, 0], ends, rtol=1e-5)


def test_stratified_draws_cover_every_slice_once_and_stay_uniform_each() -> None:
    gen = torch.Generator().manual_seed(0)
    u = stratified_uniforms(50, gen, 3)
    for column in u.T:
        assert sorted((column * 50).floor().long().tolist()) == list(range(50))
    rng = np.random.default_rng(0)
    v = uniforms(rng, 40)
    assert sorted(np.floor(v * 40).astype(int).tolist()) == list(range(40))
    first = np.array([uniforms(np.random.default_rng(s), 5)[0] for s in range(4000)])
    counts = np.histogram(first, bins=10, range=(0, 1))[0]  # one row alone: still uniform
    assert counts.min() > 330 and counts.max() < 470, counts
    density = {
        "weights": torch.tensor([0.7, 0.2, 0.1]),
        "means": torch.tensor([[0.0], [10.0], [20.0]]),
        "covariances": torch.ones(3, 1, 1),
    }
    z = sample_mixture(density, 100, torch.Generator().manual_seed(1), 1.0, stratified=True)
    share = [int(((z - m).abs() < 5).sum()) for m in (0.0, 10.0, 20.0)]
    assert share == [70, 20, 10]  # components in proportion exactly


def _skewed(n: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    return pd.DataFrame(
        {
            "a": a,
            "skewed": np.exp(1.2 * rng.standard_normal(n)),  # a Gaussian decoder's hard case
            "two_humps": np.where(rng.random(n) < 0.3, -3.0, 2.0) + 0.3 * rng.standard_normal(n),
            "b": a + 0.5 * rng.standard_normal(n),
            "colour": rng.choice(["red", "blue"], n),
        }
    )


@pytest.fixture(scope="module")
def calibrated() -> tuple[pd.DataFrame, aecli.Model]:
    frame = _skewed()
    model = aecli.train(frame, latent_dim=2, hidden=(32,), steps=600, seed=0, components=4)
    return frame, model


def test_samples_follow_the_training_quantiles_and_the_choice_is_stored(
    calibrated, tmp_path: Path
) -> None:
    frame, model = calibrated
    chosen = model.history["sampling"]
    assert chosen["marginals"] == "calibrated", chosen["scores"]
    assert set(chosen["scores"]) == {"codes", "codes calibrated"}  # the density is fixed
    assert chosen["score"] == chosen["scores"]["codes calibrated"] < chosen["scores"]["codes"]
    rows = model.sample(4000, seed=1)
    raw = model.sample(4000, seed=1, temperature=1.0 + 1e-9)  # another temperature: as drawn
    for name in ("skewed", "two_humps", "a"):
        gap = ks_2samp(rows[name], frame[name]).statistic
        assert gap < 0.06, (name, gap)
        assert gap < ks_2samp(raw[name], frame[name]).statistic or name == "a"
    pd.testing.assert_frame_equal(model.sample(300, seed=4), model.sample(300, seed=4))
    assert not model.sample(300, seed=4).equals(model.sample(300, seed=5))
    loaded = aecli.load(model.save(tmp_path / "m.safetensors"))
    assert loaded.history["sampling"]["marginals"] == "calibrated"
    pd.testing.assert_frame_equal(loaded.sample(300, seed=4), model.sample(300, seed=4))


def test_checkpoints_without_a_calibration_still_load_and_sample(calibrated, tmp_path) -> None:
    _, model = calibrated
    path = model.save(tmp_path / "m.safetensors")
    old = aecli.load(path)
    del old.history["sampling"]["marginals"]  # as written before the calibration existed
    for key in ("quantiles_from", "quantiles_to"):
        del old.extras["sampling"][key]
    again = aecli.load(old.save(tmp_path / "old.safetensors"))
    assert "quantiles_to" not in again.extras["sampling"]
    rows = again.sample(200, seed=0)
    assert len(rows) == 200 and rows.notna().all().all()
    fixture = Path(__file__).parents[1] / "fixtures" / "format1-penguins.safetensors"
    assert len(aecli.load(fixture).sample(20, seed=0)) == 20


def test_the_two_sample_auc_is_the_same_on_any_number_of_threads():
    """The forests of the sample-default choice grow on the training's threads; the choice (and
    so the checkpoint) must not depend on how many there are."""
    from aecli.parts.two_sample import two_sample_auc
    from aecli.threads import torch_threads

    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(300, 6)), rng.normal(0.2, size=(300, 6))
    aucs = []
    for threads in (1, 2, 3):
        with torch_threads(threads):
            assert torch.get_num_threads() == threads
            aucs.append(two_sample_auc(real, fake, seed=4))
    assert aucs[0] == aucs[1] == aucs[2]
    assert 0.55 < aucs[0] < 0.95  # the forest does tell the shifted rows apart


def test_a_screening_forest_grown_on_is_the_forest_grown_at_once():
    """The choice screens every candidate with small forests and grows the finalists' to full
    size: their scores must be those of full forests grown at once."""
    from aecli.parts.two_sample import TREES, Forest, two_sample_auc

    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(200, 5)), rng.normal(0.3, size=(200, 5))
    grown = Forest(real, fake, seed=7)
    small = grown.auc(10)
    assert grown.auc(TREES) == two_sample_auc(real, fake, seed=7) != small
    assert grown.auc(10) == small  # kept, not refitted
