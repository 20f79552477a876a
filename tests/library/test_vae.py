"""The variational kind: its KL and bounds are right, and a linear-Gaussian VAE recovers
probabilistic PCA; sampling works for every kind and is reproducible."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch

import aecli
from aecli.parts.architecture import Architecture
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import AutoencoderNet
from aecli.parts.variational import iwae_bound, kl_standard_normal
from conftest import SAMPLE, invoke, train_model


def test_analytic_kl_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    mu = torch.randn(4, 3, generator=gen)
    logvar = torch.randn(4, 3, generator=gen) * 0.5
    analytic = kl_standard_normal(mu, logvar)
    n = 200_000
    std = torch.exp(0.5 * logvar)
    z = mu + std * torch.randn(n, 4, 3, generator=gen)
    log_q = torch.distributions.Normal(mu, std).log_prob(z).sum(-1)
    log_p = torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)
    draws = (log_q - log_p).double()
    estimate, stderr = draws.mean(0), draws.std(0) / n**0.5
    assert ((estimate - analytic.double()).abs() < 3 * stderr).all()


def test_iwae_bound_is_above_the_elbo_and_grows_with_k():
    torch.manual_seed(0)
    net = AutoencoderNet(Architecture(6, 2, (16,), "tanh", variational=True, learned_variance=True))
    lik = Likelihood(["gaussian"] * 6)
    x = torch.randn(400, 6)
    bounds = [
        float(iwae_bound(net, lik, x, k, torch.Generator().manual_seed(1)).mean())
        for k in (1, 5, 50, 500)
    ]
    assert bounds == sorted(bounds)
    assert bounds[-1] > bounds[0]


def ppca_rows(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, float]:
    rng = np.random.default_rng(seed)
    d, k, sigma2 = 8, 2, 0.2
    w = rng.normal(size=(d, k)) * np.array([2.0, 1.0])
    mean = rng.normal(size=d) * 3
    z = rng.normal(size=(n, k))
    x = z @ w.T + mean + rng.normal(size=(n, d)) * sigma2**0.5
    return pd.DataFrame(x, columns=[f"x{i}" for i in range(d)]), w, mean, sigma2


def test_linear_gaussian_vae_recovers_probabilistic_pca():
    train, w, mean, sigma2 = ppca_rows(3000, seed=0)
    held_out = ppca_rows(4000, seed=0)[0].iloc[3000:]  # same model, rows not trained on
    model = aecli.train(
        train, kind="vae", latent_dim=2, hidden=(), steps=6000, batch_size=256, lr=3e-3, seed=0
    )
    figures = model.evaluate(held_out, importance_samples=200)
    cov = w @ w.T + sigma2 * np.eye(len(mean))
    exact = torch.distributions.MultivariateNormal(
        torch.from_numpy(mean), torch.from_numpy(cov)
    ).log_prob(torch.from_numpy(held_out.to_numpy(copy=True)))
    gap = float(exact.mean()) - figures["iwae_log_likelihood"]
    assert gap < 0.2, (float(exact.mean()), figures["iwae_log_likelihood"])
    assert figures["iwae_log_likelihood"] >= figures["elbo"]


@pytest.mark.parametrize("kind", ["vae", "sparse"])
def test_sample_has_the_training_schema_and_is_reproducible(tmp_path, runner, kind):
    digits = pd.read_csv(SAMPLE / "digits.csv").iloc[:400, :24]
    data = tmp_path / "d.csv"
    digits.to_csv(data, index=False)
    model = tmp_path / "m.safetensors"
    train_model(runner, data, model, "--kind", kind, "-k", "4", "--steps", "300", "--hidden", "32")
    first = invoke(runner, "sample", model, "-n", "50", "--seed", "3")
    again = invoke(runner, "sample", model, "-n", "50", "--seed", "3")
    other = invoke(runner, "sample", model, "-n", "50", "--seed", "4")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == again.stdout != other.stdout
    rows = pd.read_csv(io.StringIO(first.stdout))
    assert list(rows.columns) == list(digits.columns) and len(rows) == 50
    assert all(pd.api.types.is_integer_dtype(rows[c]) for c in rows.columns)
    assert (rows >= digits.min()).all().all() and (rows <= digits.max()).all().all()


def test_vae_encode_stochastic_logvar_and_evaluate_through_the_cli(tmp_path, runner, wine):
    model = tmp_path / "v.safetensors"
    train_model(runner, wine, model, "--kind", "vae", "-k", "2", "--steps", "300", "--hidden", "32")
    means = invoke(runner, "encode", model, wine)
    draw = invoke(runner, "encode", model, wine, "--stochastic", "--seed", "1")
    same = invoke(runner, "encode", model, wine, "--stochastic", "--seed", "1")
    assert means.stdout != draw.stdout == same.stdout
    full = pd.read_csv(io.StringIO(invoke(runner, "encode", model, wine, "--with-logvar").stdout))
    assert list(full.columns) == ["z1", "z2", "logvar1", "logvar2"]
    result = invoke(runner, "evaluate", model, wine, "-K", "20", "--json")
    assert result.exit_code == 0, result.stderr
    figures = json.loads(result.stdout)
    assert figures["iwae_log_likelihood"] >= figures["elbo"]
    assert np.isfinite(figures["pca_log_likelihood"])
    assert len(figures["per_feature"]) == 13

    # the history records the ELBO's two terms per epoch, and the KL per latent dimension
    history = aecli.load(model).history
    for record in history["records"]:
        total = record["val_reconstruction"] + record["val_kl"]  # beta 1: -ELBO
        assert record["val_loss"] == pytest.approx(total, rel=1e-5), record
        assert record["val_kl"] > 0
    best = history["records"][history["best_epoch"]]
    latent = history["latent"]
    assert len(latent["kl"]) == len(latent["mean_variance"]) == 2
    assert sum(latent["kl"]) == pytest.approx(best["val_kl"], rel=1e-3)  # same rows and weights
    shown = invoke(runner, "inspect", model).stdout
    assert "KL term" in shown and "reconstruction term" in shown and "active units" in shown
