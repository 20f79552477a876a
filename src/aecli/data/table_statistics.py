"""A table's scaling statistics from every training row of a stream (issue 12): the schema's
kinds and types come from the first rows, but each numeric column's mean, standard deviation,
range, point masses at its ends, whole-number flag and decimals, each category's labels and
the condition's values are gathered from all rows, block by block, with memory bounded by the
columns (at most MAX_CATEGORIES labels a column), so that a rare category or an extreme value
far into the file is not missed. The figures are those `TableSchema.fit` computes in memory on
the training rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from aecli.data.table_condition import MAX_CONDITION_VALUES, _label
from aecli.data.table_schema import MAX_CATEGORIES, TableSchema, scale_of
from aecli.data.table_values import MAX_DECIMALS, decimals
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


class LabelCodes:
    """The labels of a category column (or of the condition) as codes of a dictionary that grows
    in first-seen order as blocks arrive, with each code's count in the training rows; more
    than `limit` labels is refused with `too_many`."""

    def __init__(self, limit: int, too_many: str) -> None:
        self.limit, self.too_many = limit, too_many
        self.index: dict[str, int] = {}
        self.labels: list[str] = []
        self.counts = np.zeros(0, np.int64)

    def codes(self, series: Any) -> np.ndarray:
        """Each cell's code (int32; -1 where missing), new labels added to the dictionary."""
        codes, uniques = pd.factorize(series)
        lookup = np.array([self._code(_label(u)) for u in uniques] + [-1], np.int32)
        return lookup[codes]

    def _code(self, label: str) -> int:
        code = self.index.get(label)
        if code is None:
            if len(self.labels) == self.limit:
                raise DataError(self.too_many)
            code = self.index[label] = len(self.labels)
            self.labels.append(label)
        return code

    def count(self, codes: np.ndarray) -> None:
        """Count the training rows' codes."""
        found = np.bincount(codes[codes >= 0], minlength=len(self.labels))
        self.counts = np.concatenate([self.counts, np.zeros(len(found) - len(self.counts), int)])
        self.counts += found

    def order(self, labels: list[str]) -> np.ndarray:
        """Each code's place in `labels` (-1 where not there), and -1 for code -1 at the end."""
        place = {label: i for i, label in enumerate(labels)}
        return np.array([place.get(v, -1) for v in self.labels] + [-1], np.int64)


def category_codes(name: str) -> LabelCodes:
    return LabelCodes(
        MAX_CATEGORIES,
        f"column {name!r} has more than {MAX_CATEGORIES} distinct values, too many for a "
        f"category; mark it as an identifier with --id-col {name} or leave it out with "
        f"--drop {name}",
    )


def condition_codes(name: str) -> LabelCodes:
    return LabelCodes(
        MAX_CONDITION_VALUES,
        f"--condition {name!r} has more than {MAX_CONDITION_VALUES} distinct values; a "
        f"condition must be a category with at most {MAX_CONDITION_VALUES} values",
    )


def finish_statistics(
    schema: TableSchema, sums: NumericSums, labels: list[LabelCodes], cond: LabelCodes | None
) -> None:
    """Put the statistics of every training row into `schema` (fitted on the first rows): each
    number column's (in order, `sums`), each category's labels (`labels`, in order) and the
    condition's values (every row's) and training counts."""
    numeric = [c for c in schema.columns if c.categories is None]
    for j, col in enumerate(numeric):
        if not sums.count[j]:
            raise DataError(
                f"column {col.name!r} has no values in the training rows; leave it out with "
                f"--drop {col.name}"
            )
        mean, std = float(sums.mean[j]), float(np.sqrt(sums.m2[j] / sums.count[j]))
        if col.dtype == "int" and (sums.missing[j] or not sums.whole[j]):
            col.dtype = "float"  # the first rows were whole; later rows are not, or missing
        col.mean, col.scale = mean, scale_of(mean, std)
        col.min, col.max = float(sums.low[j]), float(sums.high[j])
        col.whole = col.dtype == "float" and bool(sums.whole[j])
        on_grid = col.dtype == "float" and sums.decimals[j] <= MAX_DECIMALS
        col.decimals = int(sums.decimals[j]) if on_grid else None
        col.at_min = float(sums.at_low[j] / sums.count[j])
        col.at_max = float(sums.at_high[j] / sums.count[j])
    categorical = [c for c in schema.columns if c.categories is not None]
    for col, codes in zip(categorical, labels, strict=True):
        seen = [v for v, k in zip(codes.labels, codes.counts, strict=False) if k]
        if not seen:
            raise DataError(
                f"column {col.name!r} has no values in the training rows; --drop {col.name}"
            )
        col.categories = sorted(seen)
    if schema.condition is not None and cond is not None:
        schema.condition.values = sorted(cond.labels)
        counts = dict(zip(cond.labels, cond.counts.tolist(), strict=False))
        schema.condition.counts = [counts.get(v, 0) for v in schema.condition.values]
