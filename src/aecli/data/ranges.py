"""Generated values kept inside a column's training range without a pile-up at its ends."""

from __future__ import annotations

from typing import Any

import numpy as np

POINT_MASS = 0.01  # a training share at a bound from which generated values are clipped there


def into_range(values: np.ndarray, col: Any) -> np.ndarray:
    """Generated values kept inside the column's training range without piling up at its ends:
    a value past an end is reflected back into the range (the density folds over the edge),
    unless the training rows hold a point mass at that end (at least `POINT_MASS` of them, e.g.
    zeros of a count), where it is clipped to it, as the data does."""
    lo, hi = col.min, col.max
    width = hi - lo
    if width <= 0:
        return np.full_like(values, lo)
    if col.at_min >= POINT_MASS:
        values = np.maximum(values, lo)
    if col.at_max >= POINT_MASS:
        values = np.minimum(values, hi)
    folded = np.mod(values - lo, 2 * width)  # reflection at both ends, repeated
    reflected = lo + np.where(folded > width, 2 * width - folded, folded)
    return np.where((values >= lo) & (values <= hi), values, reflected)
