"""The code density: the BIC-chosen mixture and the variance-corrected kernel density."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aecli.parts import density
from aecli.parts.density import fit_code_density, loo_bandwidth, sample_mixture


def _draw(fitted: dict[str, np.ndarray], n: int, seed: int, temperature: float = 1.0) -> np.ndarray:
    tensors = {k: torch.from_numpy(v) for k, v in fitted.items()}
    gen = torch.Generator().manual_seed(seed)
    return sample_mixture(tensors, n, gen, temperature).numpy()


def _codes(n: int = 300, k: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((k, k)) + 2 * np.eye(k)
    return rng.standard_normal((n, k)) @ mixing.T + np.arange(k)


def test_kde_has_one_kernel_per_code_and_a_shared_covariance() -> None:
    codes = _codes()
    fitted = fit_code_density(codes, seed=0, method="kde")
    assert fitted["weights"].shape == (300,)
    assert fitted["means"].shape == (300, 4)
    assert fitted["covariances"].shape == (1, 4, 4)
    assert all(v.dtype == np.float32 for v in fitted.values())
    assert fitted["weights"].sum() == pytest.approx(1.0, abs=1e-5)


def test_kde_keeps_the_codes_covariance_instead_of_inflating_it() -> None:
    codes = _codes(n=400)
    h = loo_bandwidth(codes, np.cov(codes.T))
    assert h > 0.3  # otherwise an uncorrected kernel density would inflate little anyway
    drawn = _draw(fit_code_density(codes, seed=0, method="kde"), 40_000, seed=1)
    ratio = np.diag(np.cov(drawn.T)) / np.diag(np.cov(codes.T))
    assert np.all(np.abs(ratio - 1) < 0.06), ratio  # uncorrected: 1 + h^2 > 1.09
    np.testing.assert_allclose(drawn.mean(0), codes.mean(0), atol=0.1)


def test_kde_bandwidth_is_small_for_tight_clusters() -> None:
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((6, 3)) * 10
    clustered = centres[rng.integers(0, 6, 300)] + 0.05 * rng.standard_normal((300, 3))
    gaussian = rng.standard_normal((300, 3))
    h_clustered = loo_bandwidth(clustered, np.cov(clustered.T))
    h_gaussian = loo_bandwidth(gaussian, np.cov(gaussian.T))
    assert h_clustered < 0.1 < h_gaussian


def test_kde_is_deterministic_and_subsamples_many_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(density, "MAX_KERNELS", 50)
    codes = _codes(n=120)
    a = fit_code_density(codes, seed=3, method="kde")
    b = fit_code_density(codes, seed=3, method="kde")
    c = fit_code_density(codes, seed=4, method="kde")
    assert a["means"].shape == (50, 4)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["means"], c["means"])
    np.testing.assert_array_equal(_draw(a, 20, seed=7), _draw(b, 20, seed=7))


def test_kde_survives_a_dead_code_dimension() -> None:
    codes = _codes(n=100, k=3)
    codes[:, 1] = 0.0  # e.g. a ReLU code unit that never fires
    drawn = _draw(fit_code_density(codes, seed=0, method="kde"), 500, seed=0)
    assert np.isfinite(drawn).all()
    assert np.abs(drawn[:, 1]).max() < 1e-2


def test_temperature_scales_the_kernels_only() -> None:
    fitted = fit_code_density(_codes(), seed=0, method="kde")
    cold = _draw(fitted, 200, seed=5, temperature=0.0)
    means = {tuple(row) for row in fitted["means"]}
    assert all(tuple(row) in means for row in cold)


def test_gmm_is_still_the_default_and_unchanged_for_one_component() -> None:
    codes = _codes(n=30)
    fitted = fit_code_density(codes, seed=0)
    assert fitted["covariances"].shape[1:] == (4, 4)
    assert 1 <= len(fitted["weights"]) <= max(density.BIC_COMPONENTS)
    # the einsum path the mixture has always used, for a one-component mixture
    tensors = {k: torch.from_numpy(v) for k, v in fitted.items()}
    gen = torch.Generator().manual_seed(2)
    comp = torch.multinomial(tensors["weights"].double(), 10, replacement=True, generator=gen)
    chol = torch.linalg.cholesky(tensors["covariances"].double()).float()
    eps = torch.randn(10, 4, generator=gen)
    expected = tensors["means"][comp] + torch.einsum("nij,nj->ni", chol[comp], eps)
    np.testing.assert_array_equal(_draw(fitted, 10, seed=2), expected.numpy())


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="not one of"):
        fit_code_density(_codes(), seed=0, method="flow")


def test_covariances_stay_positive_definite_in_float32():
    """Codes on very different scales (aecli train digits.csv -k 4 crashed in sampling): a
    full covariance that is positive definite in float64 can lose its smallest variance to
    float32 rounding; the stored copy gets the least diagonal floor that keeps a Cholesky factor,
    and a well-conditioned one is stored as a plain cast."""
    from aecli.parts.density import positive_float32

    rotation, _ = np.linalg.qr(np.random.default_rng(0).standard_normal((4, 4)))
    bad = rotation @ np.diag([3e4, 2e4, 1e4, 1e-5]) @ rotation.T
    good = np.diag([2.0, 1.0, 0.5, 0.25])
    both = np.stack([bad, good])
    assert torch.linalg.cholesky_ex(torch.from_numpy(bad.astype(np.float32)).double()).info > 0
    fixed = positive_float32(both)
    assert fixed.dtype == np.float32
    assert (torch.linalg.cholesky_ex(torch.from_numpy(fixed).double()).info == 0).all()
    np.testing.assert_array_equal(fixed[1], good.astype(np.float32))
    np.testing.assert_allclose(fixed[0], bad, rtol=0, atol=1e-4 * 1e4)  # a small floor only


def test_fit_mixtures_shares_fits_and_gives_what_each_fit_alone_gives() -> None:
    """The sample choice fits BIC's mixture and the fixed-size ones of each fold at once; each
    must be exactly the density `fit_code_density` fits on its own (so the choice, and the
    checkpoint, do not depend on which candidates were fitted together)."""
    from aecli.parts.density import fit_mixtures

    codes = _codes(n=400)
    bic, fixed = fit_mixtures(codes, 5, (4, 8, 32))
    alone = [fit_code_density(codes, 5)] + [fit_code_density(codes, 5, "gmm", m) for m in (4, 8)]
    alone.append(fit_code_density(codes, 5, "gmm", 32))
    for got, want in zip([bic, fixed[4], fixed[8], fixed[32]], alone, strict=True):
        assert got is not None and got.keys() == want.keys()
        for key in want:
            np.testing.assert_array_equal(got[key], want[key])
    assert len(fixed[32]["weights"]) == 32
    none, only = fit_mixtures(codes, 5, (4,), bic=False)
    assert none is None and list(only) == [4]
