"""Training on a table larger than memory. Two streaming passes over the input: the first
counts the rows and keeps a seeded sample of them (at most `SAMPLE_ROWS`) on which the schema
and its scaling statistics are fitted; the second turns every block into model-space rows,
holds out a seeded sample of validation rows (at most `MAX_VAL_ROWS`) and a seeded sample of
training rows (for the PCA start, the code density and the score figures), and writes the
other training rows as float32 to a cache file in a temporary folder (removed afterwards).

`TableRowStream` then gives the training loop its batches block-shuffled: each epoch visits
the cache's chunks in a seeded order, a window of chunks at a time, its rows shuffled within
the window; a batch is a function of the seed and the optimiser step, so the same seed gives
the same checkpoint and a resumed run draws what the uninterrupted one would have. Memory holds
one or two windows, whatever the number of rows.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.data.adapter import Fitted
from aecli.data.csv_dialect import Dialect, dialect_of
from aecli.data.moments import Moments
from aecli.data.table_statistics import fit_exact_statistics, row_draws
from aecli.errors import DataError

if TYPE_CHECKING:
    from aecli.options import TrainOptions

MEMORY_ENV = "AECLI_TRAIN_MEMORY"  # input bytes beyond which training streams (tests: 0)
MEMORY_BYTES = 512 << 20
SAMPLE_ROWS = 100_000  # raw rows the schema is fitted on; training rows kept in memory
MAX_VAL_ROWS = 100_000  # validation rows held in memory (the loop scores them every epoch)
CHUNK_ROWS = 4096  # rows read from the cache at once
WINDOW_CHUNKS = 32  # chunks shuffled together


def streams_training(source: Any) -> bool:
    """True when `source` names files larger than AECLI_TRAIN_MEMORY bytes (default 512 MiB):
    those are trained on from the stream; smaller inputs are held in memory (faster)."""
    from aecli.data.table_sources import table_files
    from aecli.store.atomic import STDIO

    if isinstance(source, pd.DataFrame) or str(source) == STDIO or "://" in str(source):
        return False
    value = os.environ.get(MEMORY_ENV, "")
    limit = int(value) if value.isdigit() else MEMORY_BYTES
    total = 0
    for one in table_files(source):
        total += os.path.getsize(one.path)
    return total > limit


def fit_streamed(
    cls: Any,
    source: Any,
    options: TrainOptions,
    variational: bool,
    part: tuple[int, int] | None = None,
) -> Fitted:
    """The adapter fitted on a seeded sample of the rows, and the stream of training rows (with
    `part` (rank, world), of this process's share of them)."""
    dialect = dialect_of(options)
    n, sample = _sample_rows(source, dialect, options.seed)
    if n < 2:
        raise DataError("training needs at least 2 rows")
    adapter = cls.fit(
        _retype(sample, dialect),
        options.drop,
        condition=options.condition,
        categorical=options.categorical,
        id_cols=options.id_col,
    )
    adapter.use_options(options)
    fit_exact_statistics(adapter, source, options.seed, validation_share(n, options))
    adapter.choose_likelihoods(options.likelihood, variational)
    stream = TableRowStream(adapter, source, n, options, part or (0, 1))
    return Fitted(adapter, stream.x, stream.y, len(adapter.columns), stream=stream)


def validation_share(n: int, options: TrainOptions) -> float:
    """The share of rows held out for validation: --val-fraction, capped at MAX_VAL_ROWS rows."""
    share = options.val_fraction if n >= 10 else 0.0
    return min(share, MAX_VAL_ROWS / n)


def _sample_rows(source: Any, dialect: Dialect, seed: int) -> tuple[int, pd.DataFrame]:
    """The number of rows, and a seeded uniform sample of at most SAMPLE_ROWS of them (the
    rows with the smallest random keys), in input order, read as text where CSV."""
    from aecli.data.table_stream import table_blocks

    kept: pd.DataFrame | None = None
    keys = np.zeros(0)
    n = 0
    for block in table_blocks(source, dialect, None):
        rng = np.random.default_rng([seed, 1, block.start])
        frame = block.frame.set_axis(range(block.start, block.start + len(block.frame)))
        both = frame if kept is None else pd.concat([kept, frame])
        keys = np.concatenate([keys, rng.random(len(frame))])
        if len(both) > SAMPLE_ROWS:
            keep = np.sort(np.argpartition(keys, SAMPLE_ROWS)[:SAMPLE_ROWS])
            both, keys = both.iloc[keep], keys[keep]
        kept, n = both, n + len(frame)
    assert kept is not None
    return n, kept.reset_index(drop=True)


def _retype(frame: pd.DataFrame, dialect: Dialect) -> pd.DataFrame:
    """Text columns as pandas would have read them: numbers (whole numbers with no missing
    cell as integers), true / false values as booleans, other text unchanged."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        present = column.dropna()
        text_column = column.dtype == object or pd.api.types.is_string_dtype(column)
        if not text_column or not len(present):
            out[name] = column if len(present) else column.astype("float64")
            continue
        text = present.astype(str)
        if text.str.lower().isin(["true", "false"]).all() and len(present) == len(column):
            out[name] = column.astype(str).str.lower() == "true"
            continue
        if dialect.decimal not in (None, "."):
            text = text.str.replace(dialect.decimal, ".", regex=False)
        numbers = pd.to_numeric(text, errors="coerce")
        if numbers.isna().any():
            out[name] = column
            continue
        values = pd.Series(np.nan, index=column.index)
        values[present.index] = numbers.astype("float64")
        whole = len(present) == len(column) and bool((values % 1 == 0).all())
        out[name] = values.astype("int64") if whole else values
    return pd.DataFrame(out)


class TableRowStream:
    """The training rows of a table in a float32 cache file, served as block-shuffled batches
    (`batch(count, seed, step)`, as the training loop asks); `x` / `y` hold the sampled
    training rows followed by the validation rows, `sample_rows` how many are training rows.

    `part` (rank, world): one process of a torchrun job, whose cache holds only its share of
    the training rows (every world-th, from its rank on) and whose batches are its share of the
    global batch; the sample, the validation rows and the fingerprint are every process's."""

    def __init__(
        self,
        adapter: Any,
        source: Any,
        n: int,
        options: TrainOptions,
        part: tuple[int, int] = (0, 1),
    ) -> None:
        self.seed = options.seed
        rank, world = part
        self._folder = tempfile.TemporaryDirectory(prefix="aecli-train-")
        self.path = Path(self._folder.name) / "rows.f32"
        self.width = adapter.n_features + adapter.n_condition
        self.val_share = validation_share(n, options)
        self.keep_share = min(1.0, SAMPLE_ROWS / max(1.0, n * (1 - self.val_share)))
        self.has_missing = False
        self.n = self.total = 0  # the rows in this process's cache; in every process's
        digest = hashlib.sha256()
        self.moments = Moments(adapter.n_features)  # of the training rows: the PCA start
        sample, val = [], []
        cut = self.keep_share * (1 - self.val_share)  # of u: a training row is kept in memory
        with open(self.path, "wb") as cache:
            for rows in adapter.blocks(source):
                xy = _joined(rows.x, rows.y)
                u = row_draws(self.seed, rows.start, len(xy))
                held = u < self.val_share  # the rest of u is uniform above val_share
                train = xy[~held]
                self.moments.add(train[:, : adapter.n_features])  # every process: every row
                sample.append(train[u[~held] < self.val_share + cut])
                val.append(xy[held])
                mine = train[(self.total + np.arange(len(train))) % world == rank]
                cache.write(mine.tobytes())
                digest.update(train.tobytes())
                self.has_missing = self.has_missing or bool(np.isnan(train).any())
                self.n += len(mine)
                self.total += len(train)
        if self.total == 0:
            raise DataError("training needs at least 2 rows")
        if self.total < world:
            raise DataError(f"{self.total} training rows cannot be shared by {world} processes")
        self.fingerprint = digest.hexdigest()
        kept = np.concatenate(sample + val)
        self.sample_rows = sum(len(s) for s in sample)
        d = adapter.n_features
        self.x = np.ascontiguousarray(kept[:, :d])
        self.y = np.ascontiguousarray(kept[:, d:]) if self.width > d else None
        batch = min(options.batch_size, self.total)  # the global batch; this process's share:
        self.batch_size = batch // world + (rank < batch % world)
        self.per_epoch = -(-self.total // batch)
        self.chunks = -(-self.n // CHUNK_ROWS)
        self._epoch: tuple[int, np.ndarray, np.ndarray] | None = None
        self._window: tuple[tuple[int, int], np.ndarray] | None = None

    def __len__(self) -> int:
        return self.total  # the rows an epoch draws, over every process

    def close(self) -> None:
        """Remove the cache (also done when the stream is collected, or at exit)."""
        self._window = None
        self._folder.cleanup()

    def batch(self, count: int, seed: int, step: int) -> np.ndarray:
        """The rows of optimiser step `step` (the loop's `seed` is not needed: the order is a
        function of the stream's seed and the epoch). One of several processes draws its
        share of the global batch from its own rows, round to the first where they run out."""
        epoch, k = divmod(step, self.per_epoch)
        start = k * self.batch_size
        order, offsets = self._order(epoch)
        parts = []
        while count > 0:
            start %= self.n
            w = int(np.searchsorted(offsets, start, "right") - 1)
            rows = self._rows(epoch, w, order)
            begin = start - offsets[w]
            piece = rows[begin : begin + count]
            parts.append(piece)
            count -= len(piece)
            start += len(piece)
            if not len(piece):
                break
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _order(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The chunks in this epoch's order, and where each window starts in it."""
        if self._epoch is None or self._epoch[0] != epoch:
            order = np.random.default_rng([self.seed, 3, epoch]).permutation(self.chunks)
            sizes = np.minimum(CHUNK_ROWS, self.n - order * CHUNK_ROWS)
            windows = np.add.reduceat(sizes, np.arange(0, self.chunks, WINDOW_CHUNKS))
            offsets = np.concatenate([[0], np.cumsum(windows)])
            self._epoch = (epoch, order, offsets)
        return self._epoch[1], self._epoch[2]

    def _rows(self, epoch: int, w: int, order: np.ndarray) -> np.ndarray:
        """Window `w` of the epoch: its chunks read from the cache, rows shuffled."""
        if self._window is None or self._window[0] != (epoch, w):
            chunks = order[w * WINDOW_CHUNKS : (w + 1) * WINDOW_CHUNKS]
            rows = np.concatenate([self._chunk(int(c)) for c in chunks])
            shuffle = np.random.default_rng([self.seed, 4, epoch, w]).permutation(len(rows))
            self._window = ((epoch, w), rows[shuffle])
        return self._window[1]

    def _chunk(self, c: int) -> np.ndarray:
        rows = min(CHUNK_ROWS, self.n - c * CHUNK_ROWS)
        offset = c * CHUNK_ROWS * self.width * 4
        values = np.fromfile(self.path, np.float32, rows * self.width, offset=offset)
        return values.reshape(rows, self.width)


def _joined(x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x if y is None else np.concatenate([x, np.asarray(y, np.float32)], axis=1)
