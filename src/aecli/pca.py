"""PCA, the baseline every model is compared with and the starting point of `undercomplete`."""

from __future__ import annotations

import numpy as np


def principal_axes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k principal axes (d x k) of centred data and all explained variances, descending.
    Missing cells (NaN) count as the column mean."""
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    axes = vt[:k].T
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), range(axes.shape[1])])  # deterministic signs
    return axes * np.where(signs == 0, 1, signs), s**2 / max(len(x) - 1, 1)


def components_for(x: np.ndarray, share: float) -> int:
    """The fewest principal components of `x` (rows in model space, NaN read as the column mean)
    whose variances add up to `share` of the total; the column count when the rows do not vary."""
    if len(x) < 2:
        return x.shape[1]
    _, variances = principal_axes(x, 0)
    total = float(variances.sum())
    if not total > 0:
        return x.shape[1]
    explained = np.cumsum(variances) / total
    return int(np.searchsorted(explained, share - 1e-9) + 1)


def pca_reconstruction_error(axes: np.ndarray, mean: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error per present cell of the PCA with `axes` (d x k) around `mean`, applied
    to `test` (missing cells are read as the mean and left out of the error)."""
    centred = test.astype(np.float64) - mean
    recon = np.nan_to_num(centred) @ axes @ axes.T
    return float(np.nanmean((centred - recon) ** 2))


def pca_summary(train: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """PCA of the training rows, kept in the checkpoint: the start of `undercomplete`, and the
    baseline `evaluate` compares with (probabilistic PCA's noise variance included)."""
    axes, variances = principal_axes(train, k)
    n = len(train)
    variances = variances * (n - 1) / max(n, 1)  # maximum-likelihood variances, as PPCA uses
    rest = variances[k:]
    return {
        "axes": axes.astype(np.float32),
        "mean": np.nanmean(train, axis=0).astype(np.float32),
        "variances": variances[:k].astype(np.float32),
        "noise_variance": np.array([rest.mean() if len(rest) else 0.0], np.float32),
    }
