"""PCA, the baseline every model is compared with and the starting point of `undercomplete`."""

from __future__ import annotations

import numpy as np

from aecli.data.adapter import block_rows
from aecli.data.moments import Moments

WIDE = 1024  # wider rows (images): the SVD of the rows, not a d x d scatter matrix


def principal_axes(x: np.ndarray | Moments, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k principal axes (d x k) of centred data and all explained variances, descending.
    Missing cells (NaN) count as the column mean. `x`: the rows, or their `Moments` (summed
    block by block as a stream is read: the same figures without holding the rows)."""
    if not isinstance(x, Moments) and x.shape[1] > WIDE:
        return _svd_axes(x, k)
    moments = x if isinstance(x, Moments) else Moments.of(x)
    values, vectors = np.linalg.eigh(moments.scatter())
    order = np.argsort(values, kind="stable")[::-1][: max(1, min(moments.n, len(values)))]
    return _signed(vectors[:, order[:k]]), np.clip(values[order], 0, None) / max(moments.n - 1, 1)


def pca_basis(x: np.ndarray) -> np.ndarray | Moments:
    """What the code size and the PCA start of rows `x` are computed from: their `Moments`,
    summed once for both, or (rows wider than WIDE) the rows themselves."""
    return x if x.shape[1] > WIDE else Moments.of(x)


def _svd_axes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred.astype(np.float64), full_matrices=False)
    return _signed(vt[:k].T), s**2 / max(len(x) - 1, 1)


def _signed(axes: np.ndarray) -> np.ndarray:
    """Each axis with its largest entry positive (deterministic signs)."""
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), range(axes.shape[1])])
    return axes * np.where(signs == 0, 1, signs)


def components_for(x: np.ndarray | Moments, share: float) -> int:
    """The fewest principal components of `x` (rows in model space, NaN read as the column mean,
    or their `Moments`) whose variances add up to `share` of the total; the column count when
    the rows do not vary."""
    rows, width = (x.n, len(x.count)) if isinstance(x, Moments) else x.shape
    if rows < 2:
        return width
    _, variances = principal_axes(x, 0)
    total = float(variances.sum())
    if not total > 0:
        return width
    explained = np.cumsum(variances) / total
    return int(np.searchsorted(explained, share - 1e-9) + 1)


def pca_reconstruction_error(axes: np.ndarray, mean: np.ndarray, test: np.ndarray) -> float:
    """Mean squared error per present cell of the PCA with `axes` (d x k) around `mean`, applied
    to `test` (missing cells are read as the mean and left out of the error)."""
    total, count = 0.0, 0
    step = block_rows(test.shape[1])  # block by block: memory bounded, not growing with rows
    for start in range(0, len(test), step):
        centred = test[start : start + step].astype(np.float64) - mean
        squared = (centred - np.nan_to_num(centred) @ axes @ axes.T) ** 2
        present = ~np.isnan(squared)
        total += float(np.where(present, squared, 0).sum())
        count += int(present.sum())
    return total / count if count else float("nan")


def pca_summary(train: np.ndarray | Moments, k: int) -> dict[str, np.ndarray]:
    """PCA of the training rows (or of their `Moments`, from a stream), kept in the checkpoint:
    the start of `undercomplete`, and the baseline `evaluate` compares with (probabilistic
    PCA's noise variance included)."""
    moments: np.ndarray | Moments = train
    if not isinstance(train, Moments) and train.shape[1] > WIDE:
        n, mean = len(train), np.nanmean(train, axis=0)
    else:
        moments = train if isinstance(train, Moments) else Moments.of(train)
        n, mean = moments.n, moments.mean()
    axes, variances = principal_axes(moments, k)
    variances = variances * (n - 1) / max(n, 1)  # maximum-likelihood variances, as PPCA uses
    rest = variances[k:]
    return {
        "axes": axes.astype(np.float32),
        "mean": mean.astype(np.float32),
        "variances": variances[:k].astype(np.float32),
        "noise_variance": np.array([rest.mean() if len(rest) else 0.0], np.float32),
    }
