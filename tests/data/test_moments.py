"""The PCA moments summed block by block: a category's labels added as they appear
(`Moments.extend`) give the moments of all the one-hot rows at once, and `Moments.mapped` gives
those of scaled, reordered columns, as if the scaled rows had been summed."""

from __future__ import annotations

import numpy as np

from aecli.data.moments import Moments


def rows_of(numbers: np.ndarray, codes: np.ndarray, labels: int) -> np.ndarray:
    """Numbers, the category's presence (0, NaN where missing), then one column per label."""
    out = np.zeros((len(codes), numbers.shape[1] + 1 + labels))
    out[:, : numbers.shape[1]] = numbers
    k = numbers.shape[1]
    out[codes < 0, k:] = np.nan
    present = np.flatnonzero(codes >= 0)
    out[present, k + 1 + codes[present]] = 1.0
    return out


def test_labels_that_appear_later_give_the_moments_of_every_row():
    rng = np.random.default_rng(0)
    n = 400
    numbers = rng.normal(size=(n, 2)) * [3, 100] + [5, 1e4]
    numbers[rng.random((n, 2)) < 0.1] = np.nan
    codes = rng.integers(0, 4, n)
    codes[:100] = rng.integers(0, 2, 100)  # labels 2 and 3 first appear after row 100
    codes[rng.random(n) < 0.1] = -1
    whole = Moments.of(rows_of(numbers, codes, 4))
    grown = Moments(3)  # the numbers and the presence
    grown.extend(np.array([2, 2]))  # labels 0 and 1, before any row
    grown.add(rows_of(numbers[:100], codes[:100], 2))
    grown.extend(np.array([2, 2]))  # labels 2 and 3: present where the category was
    grown.add(rows_of(numbers[100:], codes[100:], 4))
    np.testing.assert_allclose(grown.scatter(), whole.scatter(), rtol=1e-10, atol=1e-6)
    np.testing.assert_allclose(grown.mean(), whole.mean(), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(grown.count, whole.count)
    columns, offset, scale = (
        np.array([4, 0, 6, 1]),
        np.array([0, 5, 0, 1e4]),
        np.array([1, 3, 1, 1e2]),
    )
    mapped = whole.mapped(columns, offset, scale)
    scaled = Moments.of((rows_of(numbers, codes, 4)[:, columns] - offset) / scale)
    np.testing.assert_allclose(mapped.scatter(), scaled.scatter(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(mapped.mean(), scaled.mean(), rtol=1e-12, atol=1e-12)
    assert mapped.n == n
