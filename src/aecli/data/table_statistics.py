"""A table's scaling statistics from every training row of a stream (issue 12): the schema's
kinds and types come from a seeded sample, but each numeric column's mean, standard deviation,
range, point masses at its ends and whole-number flag, each category's labels and the
condition's values are gathered from all rows, block by block, with memory bounded by the
columns (at most MAX_CATEGORIES labels a column), so that a rare category or an extreme value
far into the file is not missed. The figures are those `TableSchema.fit` computes in memory on
the training rows."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from aecli.data.table_condition import MAX_CONDITION_VALUES, _label
from aecli.data.table_schema import MAX_CATEGORIES, TableSchema
from aecli.data.table_values import MAX_DECIMALS, as_float, decimals
from aecli.errors import DataError


def row_draws(seed: int, start: int, count: int) -> np.ndarray:
    """One uniform draw per row of the block starting at row `start`: a row is a validation row
    when its draw is below the validation share (the same draws in every pass)."""
    return np.random.default_rng([seed, 2, start]).random(count)


class NumericSums:
    """Running count, mean, sum of squared deviations (Chan et al.'s merge), range, counts at
    the ends, missing cells and whole-number flag of some columns, block by block."""

    def __init__(self, width: int) -> None:
        self.count = np.zeros(width)
        self.mean = np.zeros(width)
        self.m2 = np.zeros(width)
        self.low = np.full(width, np.inf)
        self.high = np.full(width, -np.inf)
        self.at_low = np.zeros(width)
        self.at_high = np.zeros(width)
        self.missing = np.zeros(width)
        self.whole = np.ones(width, dtype=bool)
        self.decimals = np.zeros(width, dtype=np.int64)  # MAX_DECIMALS + 1: off every grid

    def add(self, values: np.ndarray) -> None:
        present = ~np.isnan(values)
        count = present.sum(axis=0).astype(np.float64)
        self.missing += len(values) - count
        seen = count > 0
        mean = np.where(present, values, 0.0).sum(axis=0) / np.maximum(count, 1)
        m2 = np.where(present, (values - mean) ** 2, 0.0).sum(axis=0)
        total = self.count + count
        delta = mean - self.mean
        self.mean = np.where(seen, self.mean + delta * count / np.maximum(total, 1), self.mean)
        self.m2 = np.where(
            seen, self.m2 + m2 + delta**2 * self.count * count / np.maximum(total, 1), self.m2
        )
        self.count = total
        low = np.where(present, values, np.inf).min(axis=0, initial=np.inf)
        high = np.where(present, values, -np.inf).max(axis=0, initial=-np.inf)
        at_low = (present & (values == low)).sum(axis=0)
        at_high = (present & (values == high)).sum(axis=0)
        self.at_low = np.where(low < self.low, at_low, self.at_low + (low == self.low) * at_low)
        self.at_high = np.where(
            high > self.high, at_high, self.at_high + (high == self.high) * at_high
        )
        self.low, self.high = np.minimum(self.low, low), np.maximum(self.high, high)
        self.whole &= np.all(~present | (values == np.round(values)), axis=0)
        for j in np.flatnonzero(present.any(axis=0) & (self.decimals <= MAX_DECIMALS)):
            d = decimals(values[:, j])
            self.decimals[j] = max(self.decimals[j], MAX_DECIMALS + 1 if d is None else d)


def fit_exact_statistics(adapter: Any, source: Any, seed: int, val_share: float) -> None:
    """Replace the sample's statistics in `adapter` (a TableSchema) by those of every training
    row of `source` (the rows whose draw is at or above `val_share`), read in blocks."""
    from aecli.data.table_stream import table_blocks

    schema: TableSchema = adapter
    numeric = [c for c in schema.columns if c.categories is None]
    categorical = [c for c in schema.columns if c.categories is not None]
    sums = NumericSums(len(numeric))
    labels: dict[str, Counter[str]] = {c.name: Counter() for c in categorical}
    cond = schema.condition
    cond_labels: Counter[str] = Counter()
    cond_values: set[str] = set()
    for block in table_blocks(source, schema.dialect, schema.column_types()):
        frame = block.frame
        kept = np.flatnonzero(row_draws(seed, block.start, len(frame)) >= val_share)
        train = frame.iloc[kept]
        if numeric:
            sums.add(as_float(frame, [c.name for c in numeric], block.start)[kept])
        for col in categorical:
            _count_labels(labels[col.name], train[col.name], col.name)
        if cond is not None:
            _condition_labels(frame[cond.name], cond.name, cond_values)
            _count_labels(cond_labels, train[cond.name], cond.name)
    for j, col in enumerate(numeric):
        if not sums.count[j]:
            raise DataError(
                f"column {col.name!r} has no values in the training rows; leave it out with "
                f"--drop {col.name}"
            )
        mean, std = float(sums.mean[j]), float(np.sqrt(sums.m2[j] / sums.count[j]))
        if col.dtype == "int" and (sums.missing[j] or not sums.whole[j]):
            col.dtype = "float"  # the sample's rows were whole; later rows are not, or missing
        col.mean, col.scale = mean, std if std > 1e-12 * max(1.0, abs(mean)) else 1.0
        col.min, col.max = float(sums.low[j]), float(sums.high[j])
        col.whole = col.dtype == "float" and bool(sums.whole[j])
        on_grid = col.dtype == "float" and sums.decimals[j] <= MAX_DECIMALS
        col.decimals = int(sums.decimals[j]) if on_grid else None
        col.at_min = float(sums.at_low[j] / sums.count[j])
        col.at_max = float(sums.at_high[j] / sums.count[j])
    for col in categorical:
        if not labels[col.name]:
            raise DataError(
                f"column {col.name!r} has no values in the training rows; --drop {col.name}"
            )
        col.categories = sorted(labels[col.name])
    if cond is not None:
        cond.values = sorted(cond_values)
        cond.counts = [cond_labels[v] for v in cond.values]


def _count_labels(counts: Counter[str], series: Any, name: str) -> None:
    """Add a block's labels of one column to `counts`; refuse a column with too many."""
    for value, count in series.value_counts(dropna=True).items():
        counts[_label(value)] += int(count)
    if len(counts) > MAX_CATEGORIES:
        raise DataError(
            f"column {name!r} has more than {MAX_CATEGORIES} distinct values, too many for a "
            f"category; mark it as an identifier with --id-col {name} or leave it out with "
            f"--drop {name}"
        )


def _condition_labels(series: Any, name: str, values: set[str]) -> None:
    """Add a block's condition labels (of every row: a validation row's label must be known)."""
    if series.isna().any():
        raise DataError(f"the condition column {name!r} has missing values; fill or drop them")
    values.update(_label(v) for v in series.unique())
    if len(values) > MAX_CONDITION_VALUES:
        raise DataError(
            f"--condition {name!r} has more than {MAX_CONDITION_VALUES} distinct values; a "
            f"condition must be a category with at most {MAX_CONDITION_VALUES} values"
        )
