"""An image folder held in memory (issue 12): the training images first, then the validation
images, so that either is a slice; the fingerprint of the pixels in file order; and the PCA
start of wide rows from a seeded randomized SVD read block by block, close to the exact one."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from aecli.config import resolved_from
from aecli.data import fit_training
from aecli.data.adapter import split_rows
from aecli.pca import pca_summary


def test_an_image_folder_in_memory_is_training_then_validation_images(tmp_path: Path):
    rng = np.random.default_rng(0)
    for i in range(30):
        pixels = rng.integers(0, 255, (6, 6), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"img{i:03d}.png")
    opts = resolved_from(None, val_fraction=0.2)
    fitted = fit_training(str(tmp_path), opts, False)
    train, val = split_rows(30, 0.2, opts.seed)
    assert fitted.share is not None and fitted.share.train_total == len(train) == 24
    np.testing.assert_array_equal(fitted.share.train, np.arange(24))
    np.testing.assert_array_equal(fitted.share.val, np.arange(24, 30))
    whole = fitted.adapter.load(sorted(tmp_path.glob("*.png")))  # in file order
    np.testing.assert_array_equal(fitted.x, whole[np.concatenate([train, val])])
    assert fitted.share.fingerprint == hashlib.sha256(whole.tobytes()).hexdigest()


def test_wide_rows_get_the_top_axes_of_a_randomized_svd():
    rng = np.random.default_rng(1)
    n, d, k = 300, 1500, 4  # wider than pca.WIDE
    scales = np.array([10.0, 6.0, 4.0, 3.0])
    x = (rng.normal(size=(n, k)) * scales) @ np.linalg.qr(rng.normal(size=(d, k)))[0].T
    x = (x + 0.05 * rng.normal(size=(n, d)) + 3.0).astype(np.float32)
    got = pca_summary(x, k)
    centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    variances = s**2 / n
    np.testing.assert_allclose(got["mean"], x.astype(np.float64).mean(axis=0), atol=1e-5)
    np.testing.assert_allclose(got["variances"], variances[:k], rtol=1e-4)
    np.testing.assert_allclose(np.abs(np.sum(got["axes"] * vt[:k].T, axis=0)), 1.0, atol=1e-4)
    np.testing.assert_allclose(got["noise_variance"][0], variances[k:].mean(), rtol=1e-3)
    again = pca_summary(x, k)
    assert all(np.array_equal(got[key], again[key]) for key in got)  # seeded: the same figures
