"""The table adapter: CSV, TSV and Parquet files (or DataFrames) in, standardised model-space
rows out, and back into the training data's columns, units and types (see table_schema.py for
the schema itself and table_files.py for reading and writing files)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.data.adapter import (
    Adapter,
    Feature,
    Fitted,
    Rows,
    Share,
    Targets,
    Written,
    block_rows,
    split_rows,
)
from aecli.data.csv_dialect import Dialect, dialect_of
from aecli.data.table_files import read_table, release_arrow_memory
from aecli.data.table_schema import (
    MAX_CATEGORIES,
    MAX_CONDITION_VALUES,
    TableSchema,
)
from aecli.data.table_values import MAX_DECIMALS
from aecli.errors import CheckpointError, DataError, UserError
from aecli.vocabulary import LIKELIHOODS

if TYPE_CHECKING:
    from aecli.options import TrainOptions


class TableAdapter(TableSchema, Adapter):
    """A table's schema as the data adapter of a model."""

    type = "table"
    noun = "rows"
    feature_noun = "columns"
    noise_unit = 1.0
    dialect: Dialect | None = None  # how CSV text is read: from the training options

    def use_options(self, options: TrainOptions) -> None:
        self.dialect = dialect_of(options)

    def features(self) -> list[Feature]:
        return [
            Feature(c.name, start, c.width, c.scale, c.categories is not None)
            for start, c in zip(self.starts, self.columns, strict=True)
        ]

    def log_scale(self) -> float:
        return float(np.log([c.scale for c in self.columns]).sum())

    @classmethod
    def accepts(cls, source: Any) -> bool:
        return True  # the fallback: anything that is not images is read as a table

    @classmethod
    def fit_training(
        cls,
        source: Any,
        options: TrainOptions,
        variational: bool,
        stream: bool = False,
        part: tuple[int, int] | None = None,
    ) -> Fitted:
        from aecli.data.table_training import fit_streamed, streams_training

        if options.patch is not None or options.image_size is not None:
            raise UserError("--patch and --image-size are for images; this data is a table")
        if streams_training(source):  # larger than AECLI_TRAIN_MEMORY: from the stream
            return fit_streamed(cls, source, options, variational, part)
        frame = read_table(source, dialect_of(options))
        if len(frame) < 2:
            raise DataError("training needs at least 2 rows")
        train_rows, val_rows = split_rows(len(frame), options.val_fraction, options.seed)
        adapter = cls.fit(
            frame,
            options.drop,
            rows=train_rows,
            condition=options.condition,
            categorical=options.categorical,
            id_cols=options.id_col,
        )
        adapter.choose_likelihoods(options.likelihood, variational)
        adapter.use_options(options)
        if part is not None:
            return adapter.share_of(frame, train_rows, val_rows, part)
        fitted = adapter.split_of(frame, train_rows, val_rows)
        del frame  # and what Arrow's allocator kept of it (a Parquet file's) goes back now
        release_arrow_memory()
        return fitted

    def split_of(self, frame: pd.DataFrame, train: np.ndarray, val: np.ndarray) -> Fitted:
        """The frame's model-space rows, the training rows first and then the validation rows
        (each in input order), so that either part is a slice, not a copy; converted block by
        block into one array (no whole-frame temporaries) with the fingerprint of the rows in
        input order."""
        n = len(frame)
        where = np.empty(n, np.int64)  # each input row's position in the output
        where[train], where[val] = np.arange(len(train)), len(train) + np.arange(len(val))
        x = np.empty((n, self.width), np.float32)
        y = np.empty((n, self.n_condition), np.float32) if self.condition is not None else None
        digest = hashlib.sha256()
        warned: set[str] = set()
        step = block_rows(self.width + self.n_condition)
        for first in range(0, n, step):
            block = frame.iloc[first : first + step]
            x_block = self.to_array(block, first, warned)
            x[where[first : first + step]] = x_block
            if y is None or self.condition is None:
                digest.update(x_block.tobytes())
                continue
            y_block = self.condition.one_hot(block)
            y[where[first : first + step]] = y_block
            digest.update(np.concatenate([x_block, y_block], axis=1).tobytes())
        first_val = len(train)
        positions = np.arange(n)
        kept = Share(positions[:first_val], positions[first_val:], first_val, digest.hexdigest())
        return Fitted(self, x, y, n_inputs=len(self.columns), share=kept)

    def share_of(
        self, frame: pd.DataFrame, train: np.ndarray, val: np.ndarray, part: tuple[int, int]
    ) -> Fitted:
        """One process's share of the frame (rank, world): every row converted and checked block
        by block, as `to_array` of the whole frame would (the same errors and fingerprint in
        every process), but only its training rows (every world-th, from its rank on) and the
        validation rows kept."""
        rank, world = part
        if len(train) < world:
            raise DataError(f"{len(train)} training rows cannot be shared by {world} processes")
        keep = np.sort(np.concatenate([train[rank::world], val]))
        digest = hashlib.sha256()
        xs, ys, warned = [], [], set()
        step = block_rows(self.width + self.n_condition)
        for first in range(0, len(frame), step):
            block = frame.iloc[first : first + step]
            x = self.to_array(block, first, warned)
            y = self.condition.one_hot(block) if self.condition is not None else None
            digest.update((x if y is None else np.concatenate([x, y], axis=1)).tobytes())
            mine = keep[(keep >= first) & (keep < first + step)] - first
            xs.append(x[mine])
            ys.append(None if y is None else y[mine])
        x = np.concatenate(xs)
        y = None if self.condition is None else np.concatenate(ys)  # type: ignore[arg-type]
        where = Share(
            np.searchsorted(keep, train[rank::world]),
            np.searchsorted(keep, val),
            len(train),
            digest.hexdigest(),
        )
        return Fitted(self, x, y, n_inputs=len(self.columns), share=where)

    @property
    def n_features(self) -> int:
        return self.width

    def blocks(
        self, source: Any, keep: Sequence[str] = (), recursive: bool = False
    ) -> Iterator[Rows]:
        from aecli.data.image_files import is_image_source
        from aecli.data.table_stream import table_blocks

        if not isinstance(source, pd.DataFrame) and is_image_source(source):
            raise UserError(f"this model was trained on a table; {source} is not one")
        warned: set[str] = set()  # columns whose unseen categories were reported
        for block in table_blocks(source, self.dialect, self.column_types()):
            frame = block.frame
            x = self.to_array(frame, block.start, warned)
            keys = kept_columns(frame, keep)
            yield Rows(keys, x, self.condition_of(frame), frame, block.start)

    def column_types(self) -> dict[str, str]:
        """What each of the model's columns is read as from text: numbers as floats,
        categories in their labels' type; other columns stay text."""
        types = {c.name: "float" if c.categories is None else c.dtype for c in self.columns}
        if self.condition is not None:
            types[self.condition.name] = self.condition.dtype
        return types

    def check_targets(self, targets: Targets, force: bool, inputs: Sequence[Any]) -> Targets:
        from aecli.store.atomic import STDIO, check_output

        if targets.out_dir is not None or targets.grid is not None:
            raise UserError("--out-dir and --grid are for image models; write rows with -o FILE")
        output = STDIO if targets.output in (None, STDIO) else str(targets.output)
        check_output(output, force, inputs=inputs)
        return Targets(output=output)

    def write(self, result: Any, targets: Targets, force: bool, inputs: Sequence[Any]) -> Written:
        """Write a table, or an iterable of its blocks (streamed as they come)."""
        return write_frame(result, targets.output or "-", force)

    def code_keys(self, codes: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
        return kept_columns(codes, keep)

    def condition_of(self, frame: pd.DataFrame, hint: str = "") -> np.ndarray | None:
        """The one-hot condition of a conditional model's rows; None for other models."""
        cond = self.condition
        if cond is None:
            return None
        if cond.name not in frame.columns:
            raise DataError(f"this model is conditioned on column {cond.name!r}, absent here{hint}")
        return cond.one_hot(frame)

    def rows_out(
        self,
        values: np.ndarray,
        keys: pd.DataFrame | None = None,
        *,
        probabilities: bool = False,
        clip: bool = False,
        labels: Sequence[str] | None = None,
        **_: Any,
    ) -> pd.DataFrame:
        """Rows in the training columns, units and types; the condition's `labels` (if any)
        inserted where the condition column was, unless `keys` carry it already."""
        rows = self.from_array(values, clip=clip, probabilities=probabilities)
        kept = keys if keys is not None else pd.DataFrame(index=range(len(values)))
        cond = self.condition
        if cond is not None and labels is not None and cond.name not in kept.columns:
            rows = cond.insert(rows, labels)
        return join_columns(kept, rows)

    def join_out(self, parts: Sequence[Any]) -> pd.DataFrame:
        return pd.concat(list(parts), ignore_index=True)

    def value_range(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.nanmin(x, axis=0), np.nanmax(x, axis=0)

    def default_latent_dim(self, n_inputs: int) -> int:
        return max(1, min(8, n_inputs - 1))

    def body(self, options: TrainOptions) -> tuple[int, ...]:
        return options.hidden

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableAdapter:
        columns = data.get("columns")
        if not isinstance(columns, list) or not all(isinstance(c, dict) for c in columns):
            raise CheckpointError("checkpoint metadata: the schema's columns are malformed")
        widths = [_width(c) for c in columns]
        for c in columns:
            if not _column_ok(c):
                raise CheckpointError("checkpoint metadata: a schema column is malformed")
        _validate_condition(data.get("condition"))
        try:
            adapter = super().from_dict(data)
        except (TypeError, KeyError) as exc:
            raise CheckpointError(f"checkpoint metadata: the schema is malformed ({exc})") from None
        assert sum(widths) == adapter.width
        return adapter


def _column_ok(c: dict[str, Any]) -> bool:
    return (
        isinstance(c.get("name"), str)
        and c.get("dtype") in ("float", "int", "bool", "str")
        and all(
            isinstance(c.get(s), int | float) and math.isfinite(c[s])
            for s in ("mean", "scale", "min", "max")
        )
        and c["scale"] > 0
        and c.get("likelihood", "gaussian") in LIKELIHOODS
        and isinstance(c.get("whole", False), bool)
        and (c.get("decimals") is None or _small_int(c["decimals"]))
        and all(
            isinstance(c.get(s, 0.0), int | float) and 0 <= c.get(s, 0.0) <= 1
            for s in ("at_min", "at_max")
        )
    )


def _small_int(value: Any) -> bool:
    """A column's `decimals`: a whole number 0-MAX_DECIMALS (not a bool)."""
    return type(value) is int and 0 <= value <= MAX_DECIMALS


def _width(column: dict[str, Any]) -> int:
    """A schema column's model-space width: its category count, or 1."""
    categories = column.get("categories")
    if categories is None:
        return 1
    if not isinstance(categories, list) or not all(isinstance(v, str) for v in categories):
        raise CheckpointError("checkpoint metadata: a column's categories are malformed")
    if not 1 <= len(categories) <= MAX_CATEGORIES:
        raise CheckpointError("checkpoint metadata: a column declares too many categories")
    return len(categories)


def _validate_condition(cond: Any) -> None:
    if cond is None:
        return
    ok = (
        isinstance(cond, dict)
        and set(cond) == {"name", "values", "counts", "dtype", "position"}
        and isinstance(cond["name"], str)
        and isinstance(cond["values"], list)
        and 1 <= len(cond["values"]) <= MAX_CONDITION_VALUES
        and all(isinstance(v, str) for v in cond["values"])
        and isinstance(cond["counts"], list)
        and len(cond["counts"]) == len(cond["values"])
        and all(isinstance(c, int) and c >= 0 for c in cond["counts"])
        and cond["dtype"] in ("int", "float", "bool", "str")
        and isinstance(cond["position"], int)
    )
    if not ok:
        raise CheckpointError("checkpoint metadata: the condition column is malformed")


def kept_columns(frame: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    """The `keep` columns of `frame`, to copy through in front of an output."""
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise DataError(f"--keep names columns that are not in the data: {', '.join(missing)}")
    if not keep:
        return pd.DataFrame(index=range(len(frame)))
    return frame[list(keep)].reset_index(drop=True)


def join_columns(kept: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    """`kept` columns, then `values`; a name in both is refused."""
    clash = [c for c in kept.columns if c in values.columns]
    if clash:
        raise DataError(
            f"--keep column(s) {', '.join(clash)} clash with output columns; rename them"
        )
    return pd.concat([kept, values], axis=1) if len(kept.columns) else values


def write_frame(frame: Any, target: str, force: bool) -> Written:
    """Write a table, or an iterable of its blocks, to `target` ('-': stdout), atomically."""
    from aecli.data.table_files import table_sink

    blocks = [frame] if isinstance(frame, pd.DataFrame) else frame
    with table_sink(target, force) as sink:
        for block in blocks:
            sink.write(block)
    columns = sink.columns or []
    summary = {"output": target, "rows": sink.rows, "columns": columns}
    return Written(summary, "" if target == "-" else target, sink.rows)
