"""Training on a table larger than memory, in one streaming pass over the input (see
`table_pass`). The column kinds are fitted on the first HEAD_ROWS rows, read ahead as text where
CSV (as pyarrow or DuckDB infer types from a file's start); then every row is read once, with
the types those rows gave: a later cell that does not fit is refused, naming its row. The pass
gathers the exact scaling statistics and PCA moments of every training row, bounded samples of
the training and validation rows, and a cache of the training rows in a temporary folder
(removed afterwards), turned into model-space float32 rows once the scaling is known.

`TableRowStream` then gives the training loop its batches block-shuffled: each epoch visits
the cache's chunks in a seeded order, a window of chunks at a time, its rows shuffled within
the window; a batch is a function of the seed and the optimiser step, so the same seed gives
the same checkpoint and a resumed run draws what the uninterrupted one would have. Memory holds
one or two windows, whatever the number of rows.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.data.adapter import Fitted
from aecli.data.csv_dialect import Dialect, dialect_of
from aecli.data.table_pass import TablePass
from aecli.errors import DataError

if TYPE_CHECKING:
    from aecli.options import TrainOptions

MEMORY_ENV = "AECLI_TRAIN_MEMORY"  # input bytes beyond which training streams (tests: 0)
MEMORY_BYTES = 512 << 20
HEAD_ROWS = 100_000  # the first rows, on which the column kinds are fitted
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
    """The adapter fitted on every row of `source` in one pass, and the stream of training rows
    (with `part` (rank, world), of this process's share of them)."""
    from aecli.data.table_sources import table_files
    from aecli.data.table_stream import BadCell, table_blocks

    dialect = dialect_of(options)
    blocks = table_blocks(source, dialect, None)
    head = _head_blocks(blocks)
    adapter = cls.fit(
        _retype(pd.concat([b.frame for b in head], ignore_index=True).iloc[:HEAD_ROWS], dialect),
        options.drop,
        condition=options.condition,
        categorical=options.categorical,
        id_cols=options.id_col,
    )
    adapter.use_options(options)
    if all(one.parquet for one in table_files(source)):  # read as typed: go on from the head
        rest: Iterable[Any] = _then(head, blocks)
    else:  # the head was text: read it again, typed as it says
        blocks.close()
        rest = table_blocks(source, adapter.dialect, adapter.column_types())
    folder = tempfile.TemporaryDirectory(prefix="aecli-train-")
    try:
        rows = TablePass(adapter, options, part or (0, 1), Path(folder.name))
        try:
            for block in rest:
                rows.add(block)
        except BadCell as error:  # the first rows set the column's type: say how to change it
            raise DataError(
                f"{error}; the first {HEAD_ROWS:,} rows set each column's kind: to model "
                f"{error.column!r} as a category say --categorical {error.column}, or leave it "
                f"out with --drop {error.column}"
            ) from None
        rows.finish()
        adapter.choose_likelihoods(options.likelihood, variational)
        stream = TableRowStream(rows, folder, options)
    except BaseException:
        folder.cleanup()
        raise
    return Fitted(adapter, stream.x, stream.y, len(adapter.columns), stream=stream)


def _head_blocks(blocks: Iterator[Any]) -> list[Any]:
    """The first blocks of a table, to HEAD_ROWS rows (every block of a shorter input)."""
    head, count = [], 0
    for block in blocks:
        head.append(block)
        count += len(block.frame)
        if count >= HEAD_ROWS:
            break
    return head


def _then(head: list[Any], blocks: Iterator[Any]) -> Iterator[Any]:
    """The head's blocks (each let go once given), then the other blocks."""
    head.reverse()
    while head:
        yield head.pop()
    yield from blocks


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
    training rows followed by the validation rows, `sample_rows` how many are training rows,
    `moments` those of every training row (the PCA start).

    Under torchrun (`part` of the pass) the cache holds only this process's share of the
    training rows and its batches are its share of the global batch; the sample, the
    validation rows and the fingerprint are every process's."""

    def __init__(self, rows: TablePass, folder: Any, options: TrainOptions) -> None:
        self.seed = options.seed
        self._folder = folder
        self.path = Path(folder.name) / "rows.f32"
        rows.model_cache(self.path)
        self.n, self.total, self.has_missing = rows.n, rows.total, rows.has_missing
        self.fingerprint = rows.digest.hexdigest()
        self.moments = rows.model_moments()
        self.x, self.y, self.sample_rows = rows.kept_rows()
        self.width = self.x.shape[1] + (self.y.shape[1] if self.y is not None else 0)
        batch = min(options.batch_size, self.total)  # the global batch; this process's share:
        self.batch_size = batch // rows.world + (rows.rank < batch % rows.world)
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
