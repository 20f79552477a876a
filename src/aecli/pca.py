"""PCA, the baseline every model is compared with and the starting point of `undercomplete`."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from aecli.data.adapter import block_rows
from aecli.data.moments import Moments

WIDE = 1024  # wider rows (images, tables with many one-hot slots): no d x d moments of the rows
OVERSAMPLE = 16  # the randomized SVD of wide rows: columns beyond k in the range it finds
POWER = 4  # and its power iterations (the top k axes to near float32 precision)


def principal_axes(x: np.ndarray | Moments, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top-k principal axes (d x k) of centred data and all explained variances, descending.
    Missing cells (NaN) count as the column mean. `x`: the rows, or their `Moments` (summed
    block by block as a stream is read: the same figures without holding the rows)."""
    if not isinstance(x, Moments) and x.shape[1] > WIDE:
        return _wide_axes(x, k)
    moments = x if isinstance(x, Moments) else Moments.of(x)
    values, vectors = np.linalg.eigh(moments.scatter())
    order = np.argsort(values, kind="stable")[::-1][: max(1, min(moments.n, len(values)))]
    return _signed(vectors[:, order[:k]]), np.clip(values[order], 0, None) / max(moments.n - 1, 1)


def pca_basis(x: np.ndarray) -> np.ndarray | Moments:
    """What the code size and the PCA start of rows `x` are computed from: their `Moments`,
    summed once for both, or (rows wider than WIDE) the rows themselves."""
    return x if x.shape[1] > WIDE else Moments.of(x)


def _wide_axes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """`principal_axes` of rows wider than WIDE (a table with many one-hot slots; missing cells
    at the column mean): with at least as many rows as columns, from their centred scatter
    summed block by block in float64 (a d x d matrix, no float64 copy of the rows); else from
    the SVD of the centred rows (n x d, smaller than the scatter)."""
    n, d = x.shape
    mean = _column_means(x)
    if n < d:
        centred = np.nan_to_num(x.astype(np.float64) - mean, nan=0.0)
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        return _signed(vt[:k].T), s**2 / max(n - 1, 1)
    scatter = np.zeros((d, d))
    for _, c in _centred_blocks(x, mean):
        scatter += c.T @ c
    values, vectors = np.linalg.eigh(scatter)
    order = np.argsort(values, kind="stable")[::-1][:n]
    return _signed(vectors[:, order[:k]]), np.clip(values[order], 0, None) / max(n - 1, 1)


def _column_means(x: np.ndarray) -> np.ndarray:
    """Each column's mean over its present cells (0 where none), read block by block."""
    count, total = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    step = block_rows(x.shape[1])
    for start in range(0, len(x), step):
        block = x[start : start + step].astype(np.float64)
        present = ~np.isnan(block)
        count += present.sum(axis=0)
        total += np.where(present, block, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)


def _centred_blocks(x: np.ndarray, mean: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """The rows minus `mean` in float64 (missing cells 0, at the mean), a block at a time."""
    step = block_rows(x.shape[1])
    for start in range(0, len(x), step):
        centred = x[start : start + step].astype(np.float64) - mean
        yield start, np.nan_to_num(centred, copy=False, nan=0.0)


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

    def residual(start: int, stop: int) -> np.ndarray:
        centred = test[start:stop].astype(np.float64) - mean
        return centred - np.nan_to_num(centred) @ axes @ axes.T

    total, count = square_sums(residual, len(test), test.shape[1])
    return float(total.sum() / count.sum()) if count.sum() else float("nan")


def square_sums(
    residual: Callable[[int, int], np.ndarray], rows: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per column, the sum of squared residuals (`residual(start, stop)`: those of rows [start,
    stop); NaN where a cell is missing) over `rows` rows and the count of present cells, block
    by block: memory bounded by a block, not by the rows."""
    total, count = np.zeros(width), np.zeros(width, np.int64)
    step = block_rows(width)
    for start in range(0, rows, step):
        squared = residual(start, start + step) ** 2
        present = ~np.isnan(squared)
        total += np.where(present, squared, 0).sum(axis=0, dtype=np.float64)
        count += present.sum(axis=0)
    return total, count


def pca_summary(train: np.ndarray | Moments, k: int) -> dict[str, np.ndarray]:
    """PCA of the training rows (or of their `Moments`, from a stream), kept in the checkpoint:
    the start of `undercomplete`, and the baseline `evaluate` compares with (probabilistic
    PCA's noise variance included). Rows wider than WIDE (images) get the top k axes from a
    randomized SVD (`_top_axes`), read block by block: no copy of the rows."""
    if not isinstance(train, Moments) and train.shape[1] > WIDE:
        mean, axes, top, rest = _top_axes(train, k)
    else:
        moments = train if isinstance(train, Moments) else Moments.of(train)
        n, mean = moments.n, moments.mean()
        axes, variances = principal_axes(moments, k)
        variances = variances * (n - 1) / max(n, 1)  # maximum-likelihood variances, as PPCA uses
        top, tail = variances[:k], variances[k:]
        rest = float(tail.mean()) if len(tail) else 0.0
    return {
        "axes": axes.astype(np.float32),
        "mean": mean.astype(np.float32),
        "variances": top.astype(np.float32),
        "noise_variance": np.array([rest], np.float32),
    }


def _top_axes(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The column means, the top-k principal axes (d x k, deterministic signs), their
    maximum-likelihood variances and the mean of the other min(n, d) - k variances (from the
    total, the sum of squares), of wide rows (missing cells at the column mean). A seeded
    randomized SVD (Halko, Martinsson & Tropp 2011: a range of k + OVERSAMPLE columns, POWER
    power iterations) in float64 over blocks of rows: memory for a few blocks and (n + d) x
    (k + OVERSAMPLE) numbers, time linear in n d; the same rows give the same figures."""
    n, d = x.shape
    mean = _column_means(x)
    width = min(k + OVERSAMPLE, n, d)
    omega = np.random.default_rng(0).standard_normal((d, width))
    squares, y = 0.0, np.empty((n, width))
    for start, c in _centred_blocks(x, mean):
        squares += float(np.einsum("ij,ij->", c, c))
        y[start : start + len(c)] = c @ omega
    for _ in range(POWER):
        q = np.linalg.qr(y)[0]
        z = np.zeros((d, width))
        for start, c in _centred_blocks(x, mean):
            z += c.T @ q[start : start + len(c)]
        z = np.linalg.qr(z)[0]
        for start, c in _centred_blocks(x, mean):
            y[start : start + len(c)] = c @ z
    q = np.linalg.qr(y)[0]
    b = np.zeros((width, d))
    for start, c in _centred_blocks(x, mean):
        b += q[start : start + len(c)].T @ c
    _, s, vt = np.linalg.svd(b, full_matrices=False)
    top = s[:k] ** 2 / max(n, 1)  # maximum-likelihood variances, as PPCA uses
    others = min(n, d) - len(top)
    rest = max(squares / max(n, 1) - float(top.sum()), 0.0) / others if others > 0 else 0.0
    return mean, _signed(vt[:k].T), top, rest
