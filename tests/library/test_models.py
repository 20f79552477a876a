"""What users judge a model by: the linear kind recovers PCA, the undercomplete one beats it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import aecli
from aecli.api import split_rows
from aecli.pca import principal_axes
from conftest import SAMPLE, same_checkpoint


def largest_principal_angle(a: np.ndarray, b: np.ndarray) -> float:
    qa, _ = np.linalg.qr(a)
    qb, _ = np.linalg.qr(b)
    cosines = np.linalg.svd(qa.T @ qb, compute_uv=False)
    return float(np.arccos(np.clip(cosines, -1, 1)).max())


def test_linear_kind_recovers_the_pca_subspace_from_a_random_start():
    # breast cancer, 2 components: eigenvalues 5.6 and 2.8 of the standardised data, a clear gap
    data = SAMPLE / "breast_cancer.csv"
    model = aecli.train(data, kind="linear", latent_dim=2, seed=3, init="random")
    x = model.schema.to_array(pd.read_csv(data))
    train_rows, _ = split_rows(len(x), 0.1, 3)
    axes, eigenvalues = principal_axes(x[train_rows], 2)
    assert eigenvalues[1] > 1.5 * eigenvalues[2]
    decoder = model.net.dec_skip.weight.detach().numpy().astype(np.float64)
    assert largest_principal_angle(decoder, axes) < 0.1
    assert abs(model.metrics["ratio_to_pca"] - 1) < 0.02


@pytest.mark.parametrize(("name", "k"), [("digits", 8), ("wine", 4), ("breast_cancer", 8)])
def test_linear_kind_at_its_defaults_is_within_one_percent_of_pca(name, k):
    model = aecli.train(SAMPLE / f"{name}.csv", kind="linear", latent_dim=k, seed=0)
    assert model.options.init == "pca"
    assert model.metrics["ratio_to_pca"] <= 1.01


@pytest.mark.parametrize(
    ("name", "k", "bound"), [("digits", 8, 0.8), ("wine", 4, 1.0), ("wine", 8, 1.0)]
)
def test_undercomplete_is_never_worse_than_pca(name, k, bound):
    model = aecli.train(SAMPLE / f"{name}.csv", latent_dim=k, steps=1500, seed=0)
    assert model.metrics["ratio_to_pca"] <= bound


def test_same_seed_gives_byte_identical_checkpoints(tmp_path):
    paths = []
    for i in range(2):
        model = aecli.train(SAMPLE / "wine.csv", latent_dim=3, steps=200, hidden=(16,), seed=7)
        paths.append(model.save(tmp_path / f"m{i}.safetensors"))
    assert same_checkpoint(paths[0], paths[1])  # byte-identical but for the training time
    other = aecli.train(SAMPLE / "wine.csv", latent_dim=3, steps=200, hidden=(16,), seed=8)
    other.save(tmp_path / "other.safetensors")
    assert (tmp_path / "other.safetensors").read_bytes() != paths[0].read_bytes()


def test_python_api_round_trip(tmp_path):
    frame = pd.read_csv(SAMPLE / "wine.csv")
    model = aecli.train(frame, latent_dim=3, steps=200, hidden=(16,))
    codes = model.encode(frame)
    assert codes.shape == (len(frame), 3)
    model.save(tmp_path / "m.safetensors")
    loaded = aecli.load(tmp_path / "m.safetensors")
    assert np.allclose(loaded.encode(frame).to_numpy(), codes.to_numpy())
    assert np.allclose(loaded.decode(codes).to_numpy(), model.decode(codes).to_numpy())
    assert model.transform(frame).equals(codes)
    assert list(model.inverse_transform(codes).columns) == list(frame.columns)
