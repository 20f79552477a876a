"""The first and second moments of model-space rows, summed block by block in float64, so that
the PCA of any number of rows (the start of `--init pca` and the baseline every model is
compared with) is exact and costs memory for a d x d matrix, not for the rows.

Missing cells (NaN) count as their column's mean, as the PCA always read them: the centred
value of a missing cell is 0. With m the mask of present cells and x0 the present values (0
where missing), both shifted by the first block's column means for accuracy, the centred
scatter is sum m_i m_j (x_i - mu_i)(x_j - mu_j)
= x0'x0 - mu_j (x0'm)_ij - mu_i (x0'm)_ji + mu_i mu_j (m'm)_ij."""

from __future__ import annotations

import numpy as np

BLOCK = 65_536  # rows added at once when the rows are already in memory


class Moments:
    """Exact sums over rows added in blocks (`add`), giving the column means and the centred
    scatter matrix the PCA is the eigendecomposition of."""

    def __init__(self, width: int) -> None:
        self.n = 0
        self.shift: np.ndarray | None = None
        self.count = np.zeros(width)
        self.total = np.zeros(width)
        self.xx = np.zeros((width, width))
        self.xm = np.zeros((width, width))
        self.mm = np.zeros((width, width))

    @classmethod
    def of(cls, x: np.ndarray) -> Moments:
        """The moments of rows already in memory, added a block at a time."""
        moments = cls(x.shape[1])
        for start in range(0, len(x), BLOCK):
            moments.add(x[start : start + BLOCK])
        return moments

    def add(self, rows: np.ndarray) -> None:
        if not len(rows):
            return
        x = np.asarray(rows, np.float64)
        present = ~np.isnan(x)
        if self.shift is None:
            counts = present.sum(axis=0)
            sums = np.where(present, x, 0.0).sum(axis=0)
            self.shift = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
        x0 = np.where(present, x - self.shift, 0.0)
        sums = x0.sum(axis=0)
        self.n += len(x)
        self.total += sums
        self.xx += x0.T @ x0
        if present.all():  # no missing cell: the mask's products are counts and sums
            self.count += len(x)
            self.xm += sums[:, None]
            self.mm += len(x)
            return
        m = present.astype(np.float64)
        self.count += m.sum(axis=0)
        self.xm += x0.T @ m
        self.mm += m.T @ m

    def mean(self) -> np.ndarray:
        """Each column's mean over its present cells (NaN where none was present)."""
        shift = self.shift if self.shift is not None else np.zeros_like(self.total)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, shift + self.total / self.count, np.nan)

    def scatter(self) -> np.ndarray:
        """sum over rows of (x - mean)(x - mean)' with missing cells at the mean."""
        mu = self.total / np.maximum(self.count, 1)
        return (
            self.xx - self.xm * mu[None, :] - self.xm.T * mu[:, None] + self.mm * np.outer(mu, mu)
        )

    def extend(self, like: np.ndarray) -> None:
        """Add len(like) columns that were 0 in every row so far wherever present, present in
        the rows where column like[i] was (a category's new label: 0 in the earlier rows where
        the column had a value, missing where it had none)."""
        like = np.asarray(like, np.int64)
        if self.shift is not None:
            self.shift = np.concatenate([self.shift, np.zeros(len(like))])
        self.count = np.concatenate([self.count, self.count[like]])
        self.total = np.concatenate([self.total, np.zeros(len(like))])
        width = len(self.count)
        xx, xm, mm = (np.zeros((width, width)) for _ in range(3))
        old = width - len(like)
        xx[:old, :old], xm[:old, :old], mm[:old, :old] = self.xx, self.xm, self.mm
        xm[:old, old:] = self.xm[:, like]  # sum x0_i m_new = sum x0_i m_like
        mm[:old, old:] = self.mm[:, like]
        mm[old:, :] = mm[like, :]
        self.xx, self.xm, self.mm = xx, xm, mm

    def mapped(self, columns: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> Moments:
        """The moments of the rows (x[:, columns] - offset) / scale, for the PCA: its means and
        centred scatter (nothing can be added to it)."""
        out = Moments(len(columns))
        out.n, out.count = self.n, self.count[columns]
        mean = self.mean()[columns]
        out.shift = np.where(out.count > 0, (mean - offset) / scale, 0.0)
        out.xx = self.scatter()[np.ix_(columns, columns)] / np.outer(scale, scale)
        return out
