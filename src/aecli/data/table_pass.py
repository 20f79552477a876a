"""The one streaming pass over a table that training on it makes (issue 12). Each block is read
once and its cells turned into raw values: numbers as float64, each category's and the
condition's labels as codes of a dictionary that grows as labels appear. In that same pass:

- the exact scaling statistics of every training row (`table_statistics`);
- the first and second moments of the training rows (the PCA start, the default code size),
  summed over the raw values with one indicator column per label as labels appear, and mapped
  through the scaling at the end (`Moments.mapped`): the centred scatter is exact whatever the
  scaling turns out to be;
- the validation rows: those whose draw is below --val-fraction, at most MAX_VAL_ROWS of them
  (the smallest draws; a held-out row beyond those returns to training);
- a seeded sample of the training rows (the SAMPLE_ROWS with the smallest draws) for the steps
  after training;
- a cache file of this process's training rows as raw records, which `model_cache` turns into
  the model-space float32 rows the training loop reads, once the scaling is known.

Memory holds the two samples (each at most 1.25 times its size between trims) and one block.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.data.moments import Moments
from aecli.data.table_statistics import (
    NumericSums,
    category_codes,
    condition_codes,
    finish_statistics,
    row_draws,
)
from aecli.data.table_values import as_float, check_numeric, one_hot_rows, warn_unseen
from aecli.errors import DataError

if TYPE_CHECKING:
    from aecli.data.table_schema import TableSchema
    from aecli.options import TrainOptions

SAMPLE_ROWS = 100_000  # training rows kept in memory (the code density, the score figures)
MAX_VAL_ROWS = 100_000  # validation rows held in memory (the loop scores them every epoch)
CONVERT_ROWS = 16_384  # cached rows turned into model space at once


@dataclass
class Raw:
    """Rows as raw values: `nums` (float64, NaN where missing), `codes` (int32 label codes of
    the categories, then the condition's; -1 where missing) and each row's draw `keys`."""

    nums: np.ndarray
    codes: np.ndarray
    keys: np.ndarray

    def __len__(self) -> int:
        return len(self.keys)

    def take(self, rows: np.ndarray | slice) -> Raw:
        return Raw(self.nums[rows], self.codes[rows], self.keys[rows])

    @classmethod
    def join(cls, parts: list[Raw]) -> Raw:
        return cls(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)))


class Smallest:
    """Of the rows added, the `size` with the smallest keys, in the order added; `add` hands
    back the others: at once those with a key above every row kept at the last trim, the rest
    in batches (once more than 1.25 times `size` rows are held)."""

    def __init__(self, size: int) -> None:
        self.size, self.held = size, 0
        self.parts: list[Raw] = []
        self.bar = np.inf  # the largest key kept at the last trim

    def add(self, raw: Raw) -> Raw | None:
        late = raw.keys >= self.bar
        if late.any():
            back: Raw | None = raw.take(late)
            raw = raw.take(~late)
        else:
            back = None
        if len(raw):
            self.parts.append(raw)
            self.held += len(raw)
        trimmed = self.trim(self.size + self.size // 4)
        parts = [p for p in (back, trimmed) if p is not None]
        return Raw.join(parts) if len(parts) > 1 else (parts[0] if parts else None)

    def trim(self, limit: int) -> Raw | None:
        """Hand back all but the `size` smallest when more than `limit` rows are held."""
        if self.held <= limit:
            return None
        rows, self.parts = Raw.join(self.parts), []
        keep = np.zeros(len(rows), bool)
        if self.size:
            keep[np.argpartition(rows.keys, self.size - 1)[: self.size]] = True
            self.bar = float(rows.keys[keep].max())
        self.parts, self.held = [rows.take(keep)], int(keep.sum())
        return rows.take(~keep)


class TablePass:
    """Add the blocks of the input in order (`add`), then `finish`; `part` (rank, world): the
    cache holds this process's share of the training rows (every world-th, from its rank on),
    while the statistics, moments, samples and fingerprint are of every row."""

    def __init__(
        self, schema: TableSchema, options: TrainOptions, part: tuple[int, int], folder: Path
    ) -> None:
        self.schema, self.seed, self.val_fraction = schema, options.seed, options.val_fraction
        self.rank, self.world = part
        self.numbers = [c.name for c in schema.columns if c.categories is None]
        self.categories = [c.name for c in schema.columns if c.categories is not None]
        self.labels = [category_codes(name) for name in self.categories]
        cond = schema.condition
        self.cond = condition_codes(cond.name) if cond is not None else None
        k, m = len(self.numbers), len(self.categories) + (cond is not None)
        self.record = np.dtype([("x", "f8", (k,)), ("c", "i4", (m,))])
        self.sums = NumericSums(k)
        self.moments = Moments(k + len(self.categories))  # numbers, each category's presence,
        self.slots = [np.zeros(0, np.int64) for _ in self.categories]  # then its labels'
        self.val, self.sample = Smallest(MAX_VAL_ROWS), Smallest(SAMPLE_ROWS)
        self.rows = self.total = self.n = 0  # rows read; training rows; in this process's cache
        self.has_missing = False
        self.digest = hashlib.sha256()
        self.raw_path = folder / "rows.raw"
        self.cache = open(self.raw_path, "wb")  # noqa: SIM115 (closed by finish)
        self.warned: set[str] = set()

    def add(self, block: Any) -> None:
        raw = self._encode(block.frame, block.start)
        held = raw.keys < self.val_fraction
        self.rows += len(raw)
        self._train(raw.take(~held))
        back = self.val.add(raw.take(held))
        if back is not None:
            self._train(back)

    def _encode(self, frame: pd.DataFrame, start: int) -> Raw:
        self.schema.check_columns(frame)
        check_numeric(frame, self.numbers, start)
        nums = np.ascontiguousarray(as_float(frame, self.numbers, start))
        codes = np.empty((len(frame), self.record["c"].shape[0]), np.int32)
        for j, (name, labels) in enumerate(zip(self.categories, self.labels, strict=True)):
            codes[:, j] = labels.codes(frame[name])
        if self.cond is not None:
            assert self.schema.condition is not None
            codes[:, -1] = self.cond.codes(self.schema.condition.column_of(frame))
        return Raw(nums, codes, row_draws(self.seed, start, len(frame)))

    def _train(self, raw: Raw) -> None:
        """Count `raw` as training rows: statistics, moments, sample, cache, fingerprint."""
        if not len(raw):
            return
        self.sums.add(raw.nums)
        for codes, labels in zip(raw.codes.T, [*self.labels, self.cond], strict=False):
            if labels is not None:
                labels.count(codes)
        self._add_moments(raw)
        self.sample.add(raw)
        records = self._records(raw)
        mine = records[(self.total + np.arange(len(raw))) % self.world == self.rank]
        self.cache.write(mine.data if self.world > 1 else records.data)
        self.digest.update(records.data)
        cats = raw.codes[:, : len(self.categories)]
        self.has_missing = self.has_missing or bool(np.isnan(raw.nums).any() or (cats < 0).any())
        self.n += len(mine) if self.world > 1 else len(raw)
        self.total += len(raw)

    def _records(self, raw: Raw) -> np.ndarray:
        out = np.empty(len(raw), self.record)
        out["x"], out["c"] = raw.nums, raw.codes
        return out

    def _add_moments(self, raw: Raw) -> None:
        """Add the rows as raw numbers, each category's presence (0, or NaN where missing) and
        one indicator per label (1 / 0, NaN where the category is missing)."""
        k = len(self.numbers)
        for j, labels in enumerate(self.labels):
            new = len(labels.labels) - len(self.slots[j])
            if new:
                first = len(self.moments.count)
                self.moments.extend(np.full(new, k + j))  # 0 so far, present where j was
                self.slots[j] = np.concatenate([self.slots[j], first + np.arange(new)])
        rows = np.zeros((len(raw), len(self.moments.count)))
        rows[:, :k] = raw.nums
        for j, slots in enumerate(self.slots):
            codes = raw.codes[:, j]
            absent = np.flatnonzero(codes < 0)
            present = np.flatnonzero(codes >= 0)
            rows[present, slots[codes[present]]] = 1.0
            rows[absent, k + j] = np.nan
            rows[np.ix_(absent, slots)] = np.nan
        self.moments.add(rows)

    def finish(self) -> None:
        """After the last block: settle the validation rows (none for fewer than 10 rows) and
        put the statistics of every training row into the schema."""
        if self.rows < 10:
            self.val.size = 0
        back = self.val.trim(self.val.size)
        if back is not None:
            self._train(back)
        self.cache.close()
        if self.rows < 2 or self.total == 0:
            raise DataError("training needs at least 2 rows")
        if self.total < self.world:
            raise DataError(
                f"{self.total} training rows cannot be shared by {self.world} processes"
            )
        finish_statistics(self.schema, self.sums, self.labels, self.cond)

    def model_moments(self) -> Moments:
        """The moments of the training rows in model space (after the scaling is settled)."""
        columns, offset, scale = [], [], []
        i = j = 0
        for col in self.schema.columns:
            if col.categories is None:
                columns.append(i)
                offset.append(col.mean)
                scale.append(col.scale)
                i += 1
                continue
            index = self.labels[j].index
            columns += [int(self.slots[j][index[v]]) for v in col.categories]
            offset += [0.0] * col.width
            scale += [1.0] * col.width
            j += 1
        return self.moments.mapped(np.array(columns), np.array(offset), np.array(scale))

    def model_rows(self, raw: Raw) -> tuple[np.ndarray, np.ndarray | None]:
        """Raw rows in model space: standardised numbers, one-hot categories (NaN where missing
        or unseen in training), the condition one-hot; what `TableSchema.to_array` gives."""
        schema = self.schema
        out = np.empty((len(raw), schema.width), np.float32)
        numeric = [c for c in schema.columns if c.categories is None]
        categorical = [c for c in schema.columns if c.categories is not None]
        starts = dict(zip(schema.names, schema.starts, strict=True))
        if numeric:  # raw.nums holds them in this order; copied in runs of adjacent slots
            scaled = np.subtract(raw.nums, [c.mean for c in numeric])
            scaled /= [c.scale for c in numeric]
            slots = np.array([starts[c.name] for c in numeric])
            for run in np.split(np.arange(len(slots)), np.flatnonzero(np.diff(slots) != 1) + 1):
                first = slots[run[0]]
                out[:, first : first + len(run)] = scaled[:, run[0] : run[-1] + 1]
        for j, col in enumerate(categorical):
            assert col.categories is not None
            place = self.labels[j].order(col.categories)[raw.codes[:, j]]
            unseen = (place < 0) & (raw.codes[:, j] >= 0)
            if unseen.any():
                labels = sorted({self.labels[j].labels[c] for c in raw.codes[unseen, j]})
                warn_unseen(col.name, labels, self.warned)
            out[:, starts[col.name] : starts[col.name] + col.width] = one_hot_rows(place, col.width)
        y = None
        if schema.condition is not None and self.cond is not None:
            place = self.cond.order(schema.condition.values)[raw.codes[:, -1]]
            y = np.nan_to_num(one_hot_rows(place, len(schema.condition.values)))
        return out, y

    def model_cache(self, path: Path) -> None:
        """Write this process's cached training rows in model space to `path` (float32), and
        remove the raw cache."""
        size = self.record.itemsize

        def cached() -> Iterator[Raw]:
            for first in range(0, self.n, CONVERT_ROWS):
                count = min(CONVERT_ROWS, self.n - first)
                records = np.fromfile(self.raw_path, self.record, count, offset=first * size)
                yield Raw(records["x"], records["c"], np.zeros(count))

        with open(path, "wb") as out:
            for rows in self._model_chunks(cached()):
                out.write(rows.data)
        self.raw_path.unlink()

    def kept_rows(self) -> tuple[np.ndarray, np.ndarray | None, int]:
        """The sampled training rows then the validation rows in model space (x, y), and how
        many are training rows."""
        d, c = self.schema.width, self.schema.n_condition
        x = np.empty((self.sample.held + self.val.held, d), np.float32)
        y = np.empty((len(x), c), np.float32) if c else None
        done = 0
        for rows in self._model_chunks(self.sample.parts + self.val.parts):
            x[done : done + len(rows)] = rows[:, :d]
            if y is not None:
                y[done : done + len(rows)] = rows[:, d:]
            done += len(rows)
        return x, y, self.sample.held

    def _model_chunks(self, parts: Iterable[Raw]) -> Iterator[np.ndarray]:
        """The rows of `parts` in model space (x, then y where conditional), a chunk at a time."""
        for raw in parts:
            for first in range(0, len(raw), CONVERT_ROWS):
                x, y = self.model_rows(raw.take(slice(first, first + CONVERT_ROWS)))
                yield x if y is None else np.concatenate([x, y], axis=1)
