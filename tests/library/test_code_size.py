"""The default code size of a table: at most min(8, columns - 1), half the encoded width (one-hot
slots counted) and the principal components that explain 95% of the training rows' variance, so
that the code is a bottleneck."""

from __future__ import annotations

import numpy as np
import pandas as pd

import aecli
from aecli.pca import components_for

QUICK = {"steps": 20, "hidden": (8,), "seed": 0, "threads": 1}


def test_components_for_counts_the_components_that_explain_the_share():
    rng = np.random.default_rng(0)
    factors = rng.normal(size=(200, 2))
    x = factors @ rng.normal(size=(2, 6)) + 0.01 * rng.normal(size=(200, 6))
    assert components_for(x, 0.95) == 2
    assert components_for(rng.normal(size=(200, 6)), 0.95) >= 5
    assert components_for(np.ones((5, 3)), 0.95) == 3  # rows that do not vary: no limit


def test_a_table_driven_by_two_factors_gets_a_code_of_two():
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(300, 2))
    x = factors @ rng.normal(size=(2, 7)) + 0.01 * rng.normal(size=(300, 7))
    model = aecli.train(pd.DataFrame(x).add_prefix("c"), **QUICK)
    assert model.latent_dim == 2


def test_independent_columns_keep_columns_minus_one_and_categories_count_once():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame(rng.normal(size=(300, 4))).add_prefix("x")
    frame["colour"] = rng.choice(list("abcdefgh"), 300)  # 8 one-hot slots, one column
    model = aecli.train(frame, **QUICK)
    assert model.n_features == 12 and model.latent_dim == 4  # 5 columns - 1, not 12 // 2


def test_a_small_table_gets_at_most_half_its_width():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(size=(300, 7))).add_prefix("x")  # 7 independent columns
    assert aecli.train(frame, **QUICK).latent_dim == 3  # 7 // 2, not 7 - 1
    wide = pd.DataFrame(rng.normal(size=(300, 20))).add_prefix("x")
    assert aecli.train(wide, **QUICK).latent_dim == 8


def test_an_explicit_code_size_and_the_imputers_are_left_alone():
    rng = np.random.default_rng(3)
    factors = rng.normal(size=(200, 1))
    frame = pd.DataFrame(factors @ rng.normal(size=(1, 5)) + 0.01 * rng.normal(size=(200, 5)))
    frame = frame.add_prefix("c")
    assert aecli.train(frame, **QUICK).latent_dim == 1
    assert aecli.train(frame, latent_dim=3, **QUICK).latent_dim == 3
    assert aecli.train(frame, noise="mask:0.2", **QUICK).latent_dim == 4


def test_wide_rows_get_the_variances_of_the_exact_svd_without_copying_the_rows():
    """Rows wider than WIDE (a table with many one-hot slots): the variances from the scatter
    summed block by block (more rows than columns) or the SVD (fewer) are those of the exact
    SVD of the mean-filled, centred rows; so is the code size."""
    from aecli.pca import WIDE, principal_axes

    rng = np.random.default_rng(4)
    d = WIDE + 30
    for n in (d + 200, 300):
        factors = rng.normal(size=(n, 6)) @ rng.normal(size=(6, d))
        x = (factors + 0.05 * rng.normal(size=(n, d))).astype(np.float32)
        x[rng.random(x.shape) < 0.01] = np.nan
        filled = np.where(np.isnan(x), np.nanmean(x.astype(np.float64), axis=0), x)
        s = np.linalg.svd(filled - filled.mean(axis=0), compute_uv=False)
        expected = s**2 / (n - 1)
        axes, variances = principal_axes(x, 3)
        np.testing.assert_allclose(variances[: len(s)], expected, rtol=1e-6, atol=1e-9)
        assert axes.shape == (d, 3)
        explained = np.cumsum(expected) / expected.sum()
        assert components_for(x, 0.95) == int(np.searchsorted(explained, 0.95 - 1e-9) + 1)
