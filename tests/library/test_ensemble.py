"""--ensemble N: N networks in one checkpoint whose fills `denoise` averages."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aecli
from aecli.ensemble import members, reconstruct
from aecli.errors import CheckpointError, UserError
from aecli.imputation import start_values


def _table(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    a = rng.normal(size=n)
    return pd.DataFrame(
        {"a": a, "b": 2 * a + rng.normal(0.3, size=n), "c": rng.normal(size=n)}
        | {"g": np.where(a > 0, "up", "down")}
    )


@pytest.fixture(scope="module")
def ensemble() -> aecli.Model:
    options = {"kind": "denoising", "noise": "mask:0.2", "steps": 60, "threads": 1}
    return aecli.train(_table(), ensemble=3, **options)


def test_members_are_stored_loaded_and_averaged(ensemble, tmp_path):
    nets = members(ensemble)
    assert len(nets) == 3 and nets[0] is ensemble.net
    x = ensemble.adapter.read(_table(20)).x
    each = [ensemble.apply(lambda r, n=n: ensemble.likelihood.mean(n(r)), x) for n in nets]
    assert not np.allclose(each[0], each[1])  # different seeds, different networks
    assert np.allclose(reconstruct(ensemble, x), np.mean(each, axis=0), atol=1e-6)
    loaded = aecli.load(ensemble.save(tmp_path / "m.safetensors"))
    gaps = _table(20).mask(np.eye(20, 4, dtype=bool))
    assert ensemble.denoise(gaps)[0].equals(loaded.denoise(gaps)[0])


def test_the_first_network_is_the_single_models(ensemble):
    single = aecli.train(_table(), kind="denoising", noise="mask:0.2", steps=60, threads=1)
    theirs = ensemble.net.state_dict()
    for name, p in single.net.state_dict().items():
        assert np.array_equal(p.numpy(), theirs[name].numpy()), name


def test_a_member_of_another_shape_is_refused(ensemble, tmp_path):
    broken = aecli.load(ensemble.save(tmp_path / "m.safetensors"))
    name = next(k for k in broken.extras["members"] if k.endswith("enc_skip.bias"))
    broken.extras["members"][name] = np.zeros(1, np.float32)
    path = broken.save(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="ensemble members"):
        aecli.load(path)


def test_a_masked_model_starts_missing_cells_where_training_hid_them(ensemble):
    assert not start_values(ensemble, ensemble.n_features).any()  # 0: a category's block off
    plain = aecli.train(_table(), steps=20, threads=1)
    assert np.array_equal(start_values(plain, plain.n_features), plain.extras["pca"]["mean"])


def test_an_image_ensemble_is_refused_in_one_line():
    from conftest import SAMPLE

    with pytest.raises(UserError, match="--ensemble is for tables"):
        aecli.train(SAMPLE / "mnist", ensemble=2)


def test_a_masked_table_model_gets_the_wider_imputation_code():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.normal(size=(120, 20)), columns=[f"c{i}" for i in range(20)])
    masked = aecli.train(frame, kind="denoising", noise="mask:0.2", steps=5, threads=1)
    plain = aecli.train(frame, kind="denoising", steps=5, threads=1)
    assert (masked.latent_dim, plain.latent_dim) == (16, 8)
