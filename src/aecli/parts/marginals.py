"""A marginal calibration of generated rows: per column, the monotone map that takes the
quantiles of the model's generated values to the training rows' quantiles (quantile mapping,
as in the statistical correction of climate-model output). Applied to each generated value on
its own, it keeps the order of values within a column, so the joint structure the model draws
(its copula) is kept while every calibrated column's distribution becomes the training one.

The map is two (knots, width) tables in model space: `quantiles_from`, the generated values'
quantiles, and `quantiles_to`, the training values' at the same probabilities (j + 1/2) / knots
(with as many knots as training rows, the training order statistics themselves); between knots
the map is linear, beyond the outer knots a shift (slope 1), so the model's own tails are kept
and no value piles up at an outer knot. A column whose `quantiles_to` are NaN is left as drawn."""

from __future__ import annotations

import numpy as np

MAX_KNOTS = 512


def fit_quantile_map(
    generated: np.ndarray, real: np.ndarray, columns: np.ndarray
) -> dict[str, np.ndarray]:
    """The map from `generated` (rows, width) to `real` (rows, width; NaN: missing) values in
    the boolean `columns`; float32 tables of at most MAX_KNOTS knots."""
    width = generated.shape[1]
    present = np.isfinite(real)
    counts = present.sum(axis=0)
    knots = int(min(MAX_KNOTS, max(2, counts[columns].min(initial=MAX_KNOTS))))
    probs = (np.arange(knots) + 0.5) / knots
    source = np.full((knots, width), np.nan)
    target = np.full((knots, width), np.nan)
    for j in np.flatnonzero(columns):
        if counts[j] < 2:
            continue
        target[:, j] = np.quantile(real[present[:, j], j], probs, method="hazen")
        source[:, j] = np.quantile(generated[:, j], probs, method="hazen")
    return {
        "quantiles_from": source.astype(np.float32),
        "quantiles_to": target.astype(np.float32),
    }


def apply_quantile_map(x: np.ndarray, table: dict[str, np.ndarray]) -> np.ndarray:
    """x with every calibrated column mapped (linear between knots, a shift beyond)."""
    out = np.array(x, dtype=np.float32, copy=True)
    source = table["quantiles_from"].astype(np.float64)
    target = table["quantiles_to"].astype(np.float64)
    for j in np.flatnonzero(np.isfinite(target).all(axis=0) & np.isfinite(source).all(axis=0)):
        xp = _increasing(source[:, j])
        v = x[:, j].astype(np.float64)
        mapped = np.interp(v, xp, target[:, j])
        mapped = np.where(v < xp[0], target[0, j] + (v - xp[0]), mapped)
        mapped = np.where(v > xp[-1], target[-1, j] + (v - xp[-1]), mapped)
        out[:, j] = mapped
    return out


def _increasing(knots: np.ndarray) -> np.ndarray:
    """The knots made strictly increasing (ties, e.g. of a point mass, spread by a hair), as
    np.interp needs."""
    span = max(float(knots[-1] - knots[0]), 1.0)
    step = 1e-9 * span
    return np.maximum.accumulate(knots + step * np.arange(len(knots)))
