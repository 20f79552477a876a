"""The tabular data adapter: files to standardised arrays and back, owning names, order and dtypes.

Reads CSV, TSV and Parquet (by extension; '-' is CSV on stdin) and writes the same formats
atomically. The schema learned at training time travels in the checkpoint, so later commands match
columns by name and restore the original units and dtypes.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aecli.atomic import STDIO, atomic_path
from aecli.errors import DataError, UserError

READERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ","}
PARQUET = (".parquet", ".pq")


def _suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".gz", ".bz2", ".xz", ".zst", ".zip") and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def read_table(source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a path (CSV, TSV, Parquet; '-' for CSV on stdin), or pass a DataFrame through."""
    if isinstance(source, pd.DataFrame):
        return source
    name = str(source)
    if name == STDIO:
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise DataError("stdin is empty; pipe a CSV with a header row into '-'")
        _check_text(data[:8192], "stdin")
        return _read_csv(io.BytesIO(data), ",", "stdin")
    path = Path(name)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a CSV, TSV or Parquet file")
    suffix = _suffix(path)
    if suffix in PARQUET:
        try:
            frame = pd.read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for damaged files
            raise DataError(f"{path} could not be read as Parquet ({_first_line(exc)})") from None
    elif suffix in READERS:
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty; it needs a header row and at least one data row")
        if suffix == path.suffix.lower():  # uncompressed: look for binary content first
            with open(path, "rb") as handle:
                _check_text(handle.read(8192), str(path))
        frame = _read_csv(path, READERS[suffix], str(path))
    else:
        raise DataError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; use .csv, .tsv or .parquet"
        )
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows")
    return frame


def _check_text(head: bytes, name: str) -> None:
    if b"\x00" in head:
        raise DataError(
            f"{name} is not a text file (it holds binary data); give a CSV, TSV or Parquet file"
        )


def _read_csv(source: Any, sep: str, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(source, sep=sep)
    except UnicodeDecodeError:
        raise DataError(
            f"{name} is not a text file (not UTF-8); give a CSV, TSV or Parquet file"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} has no header row and no data") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{name} is not a well-formed table: {_first_line(exc)}") from None
    except ValueError as exc:
        raise DataError(f"{name} could not be read: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def write_table(frame: pd.DataFrame, target: str | Path, *, force: bool = False) -> None:
    """Write CSV / TSV / Parquet by extension, atomically; '-' writes CSV to stdout."""
    import pyarrow as pa

    table = pa.Table.from_pandas(frame, preserve_index=False)
    text = pa.Table.from_pandas(_keep_floats_float(frame), preserve_index=False)
    if str(target) == STDIO:
        _write_csv(text, sys.stdout.buffer, ",")
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    suffix = _suffix(path)
    if suffix not in READERS and suffix not in PARQUET:
        raise UserError(f"{path}: unknown output type {suffix!r}; use .csv, .tsv or .parquet")
    with atomic_path(path, force) as tmp:
        if suffix in PARQUET:
            import pyarrow.parquet as pq

            pq.write_table(table, tmp)
        else:
            with open(tmp, "wb") as handle:
                _write_csv(text, handle, READERS[suffix])


def _keep_floats_float(frame: pd.DataFrame) -> pd.DataFrame:
    """pyarrow writes 127.0 as '127', which reads back as an integer: give float columns whose
    values are all whole numbers an explicit '.0' so their type survives the round trip."""
    whole = [
        c
        for c in frame.columns
        if pd.api.types.is_float_dtype(frame[c])
        and frame[c].notna().any()
        and bool(np.all(np.mod(frame[c].dropna().to_numpy(), 1) == 0))
    ]
    if not whole:
        return frame
    out = frame.copy()
    for c in whole:
        out[c] = [None if pd.isna(v) else repr(float(v)) for v in frame[c]]
    return out


def _write_csv(table: Any, sink: Any, delimiter: str) -> None:
    """A header quoted only where needed (Python's csv), then the rows by pyarrow (fast)."""
    import csv

    import pyarrow.csv as pacsv

    header = io.StringIO()
    csv.writer(header, delimiter=delimiter, lineterminator="\n").writerow(table.column_names)
    sink.write(header.getvalue().encode())
    options = pacsv.WriteOptions(include_header=False, delimiter=delimiter)
    pacsv.write_csv(table, sink, write_options=options)


@dataclass
class Column:
    """One modelled column: its dtype and the statistics that standardise it."""

    name: str
    dtype: str  # "float", "int" or "bool"
    mean: float
    scale: float  # the standard deviation, or 1 for a constant column
    min: float
    max: float
    likelihood: str = "gaussian"  # or "bernoulli": values in [0, 1], left unscaled


MAX_CONDITION_VALUES = 1000


@dataclass
class Condition:
    """The category y a conditional model is trained on, one-hot encoded."""

    name: str
    values: list[str]  # the labels, as text, in one-hot order
    counts: list[int]  # how often each label occurred in the training rows
    dtype: str  # "int", "float", "bool" or "str": the type labels are written back as
    position: int  # the column's place in the training file

    @classmethod
    def fit(cls, frame: pd.DataFrame, name: str, rows: np.ndarray | None) -> Condition:
        if name not in frame.columns:
            raise DataError(f"--condition {name!r} is not a column of the data")
        series = frame[name] if rows is None else frame[name].iloc[rows]
        if series.isna().any():
            raise DataError(f"the condition column {name!r} has missing values; fill or drop them")
        labels = series.map(_label).value_counts().sort_index()
        if len(labels) > MAX_CONDITION_VALUES:
            raise DataError(
                f"--condition {name!r} has {len(labels)} distinct values; a condition must be a "
                f"category with at most {MAX_CONDITION_VALUES} values"
            )
        dtype = "str" if frame[name].dtype == object else _dtype(frame[name])
        position = list(frame.columns).index(name)
        return cls(name, list(labels.index), [int(c) for c in labels], dtype, position)

    def one_hot(self, frame: pd.DataFrame) -> np.ndarray:
        """The (rows, values) one-hot matrix of the frame's condition column."""
        if self.name not in frame.columns:
            raise DataError(
                f"the data lacks the condition column {self.name!r} the model was trained with"
            )
        column = frame[self.name]
        if column.isna().any():
            raise DataError(f"the condition column {self.name!r} has missing values")
        return self.encode_labels(column.map(_label).tolist())

    def encode_labels(self, labels: Sequence[str]) -> np.ndarray:
        index = {v: i for i, v in enumerate(self.values)}
        unknown = [v for v in labels if v not in index]
        if unknown:
            known = ", ".join(self.values[:10]) + (" ..." if len(self.values) > 10 else "")
            raise DataError(
                f"condition {self.name!r} value {unknown[0]!r} was not seen in training; "
                f"known values: {known}"
            )
        out = np.zeros((len(labels), len(self.values)), np.float32)
        out[np.arange(len(labels)), [index[v] for v in labels]] = 1.0
        return out

    def column(self, labels: Sequence[str]) -> pd.Series:
        """Labels back in the column's original type."""
        cast = {"int": int, "float": float, "bool": lambda v: v == "True"}.get(self.dtype, str)
        return pd.Series([cast(v) for v in labels], name=self.name)

    def insert(self, frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
        out = frame.copy()
        out.insert(min(self.position, len(out.columns)), self.name, self.column(labels).to_numpy())
        return out


def _label(value: Any) -> str:
    """A condition value as text: 3, 3.0 and '3' are one label."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


@dataclass
class TableSchema:
    """The columns a model was trained on, in order, with their scaling statistics."""

    columns: list[Column]
    dropped: list[str] = field(default_factory=list)
    condition: Condition | None = None

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        drop: Sequence[str] = (),
        rows: np.ndarray | None = None,
        condition: str | None = None,
    ) -> TableSchema:
        """Learn the schema from `frame`; statistics come from `rows` (the training split).
        A `condition` column is kept out of the features and one-hot encoded."""
        unknown = [c for c in drop if c not in frame.columns]
        if unknown:
            raise DataError(
                f"--drop names columns that are not in the data: {', '.join(map(str, unknown))}"
            )
        cond = Condition.fit(frame, condition, rows) if condition is not None else None
        kept = [c for c in frame.columns if c not in {*drop, condition}]
        if not kept:
            raise DataError("no columns left to model after --drop")
        _check_names(frame)
        _check_numeric(frame, kept)
        values = _as_float(frame, kept)
        stats = values if rows is None else values[rows]
        columns = []
        for j, name in enumerate(kept):
            col = stats[:, j][~np.isnan(stats[:, j])]  # statistics of the present cells
            if not len(col):
                raise DataError(
                    f"column {name!r} has no values in the training rows; leave it out with "
                    f"--drop {name}"
                )
            mean, std = float(col.mean()), float(col.std())
            columns.append(
                Column(
                    name=str(name),
                    dtype=_dtype(frame[name]),
                    mean=mean,
                    scale=std if std > 1e-12 * max(1.0, abs(mean)) else 1.0,
                    min=float(col.min()),
                    max=float(col.max()),
                )
            )
        return cls(columns, [str(c) for c in drop], cond)

    def choose_likelihoods(self, choice: str, variational: bool) -> list[str]:
        """Set each column's decoder likelihood from --likelihood and the data; Bernoulli
        columns are left unscaled so that their values stay probabilities."""
        in_unit = [c.min >= 0 and c.max <= 1 for c in self.columns]
        # auto: only columns that fill [0, 1] (binary flags, pixel intensities) or are constant
        # in it; a proportion that stays within [0.05, 0.2] is better served by a Gaussian
        spans = [
            ok and (c.max - c.min >= 0.99 or c.max == c.min)
            for c, ok in zip(self.columns, in_unit, strict=True)
        ]
        if choice == "bernoulli" and not all(in_unit):
            bad = next(c.name for c, ok in zip(self.columns, in_unit, strict=True) if not ok)
            raise DataError(
                f"--likelihood bernoulli needs values in [0, 1], but column {bad!r} is outside; "
                "rescale it or use --likelihood gaussian"
            )
        auto_bernoulli = choice == "auto" and variational
        for col, ok in zip(self.columns, spans, strict=True):
            if choice == "bernoulli" or (auto_bernoulli and ok):
                col.likelihood, col.mean, col.scale = "bernoulli", 0.0, 1.0
        return [c.likelihood for c in self.columns]

    def to_array(self, frame: pd.DataFrame) -> np.ndarray:
        """Standardised float32 values of the schema's columns, matched by name (NaN where a
        cell is missing."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(
                f"the data lacks {len(missing)} column(s) the model was trained on: {shown}; "
                "give a file with the training columns (any order)"
            )
        _check_numeric(frame, self.names)
        values = _as_float(frame, self.names)
        mean = np.array([c.mean for c in self.columns])
        scale = np.array([c.scale for c in self.columns])
        return ((values - mean) / scale).astype(np.float32)

    def write_back(
        self, frame: pd.DataFrame, values: np.ndarray, cells: np.ndarray
    ) -> pd.DataFrame:
        """`frame` with the model columns' `cells` (a boolean mask) replaced by `values`
        (model space); every other cell, column and the column order stay as they were, and
        integer / boolean columns keep their type once no cell is missing."""
        out = frame.copy()
        decoded = self.from_array(values)
        for j, col in enumerate(self.columns):
            if not cells[:, j].any():
                continue
            merged = out[col.name].where(~cells[:, j], decoded[col.name].to_numpy())
            if col.dtype == "int" and not merged.isna().any():
                merged = np.rint(merged.astype(np.float64)).astype(np.int64)
            elif col.dtype == "bool" and not merged.isna().any():
                merged = merged.astype(bool)
            out[col.name] = merged
        return out

    def from_array(self, values: np.ndarray, clip: bool = False) -> pd.DataFrame:
        """Undo the scaling; int columns are rounded and bool columns thresholded; with `clip`,
        values are kept inside each column's training range."""
        mean = np.array([c.mean for c in self.columns])
        scale = np.array([c.scale for c in self.columns])
        raw = values.astype(np.float64) * scale + mean
        if clip:
            raw = np.clip(raw, [c.min for c in self.columns], [c.max for c in self.columns])
        out = {}
        for j, col in enumerate(self.columns):
            if col.dtype == "int":
                out[col.name] = np.rint(raw[:, j]).astype(np.int64)
            elif col.dtype == "bool":
                out[col.name] = raw[:, j] >= 0.5
            else:
                out[col.name] = raw[:, j]
        return pd.DataFrame(out)

    @property
    def n_condition(self) -> int:
        return len(self.condition.values) if self.condition is not None else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [asdict(c) for c in self.columns],
            "dropped": self.dropped,
            "condition": asdict(self.condition) if self.condition is not None else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        cond = data.get("condition")
        return cls(
            [Column(**c) for c in data["columns"]],
            list(data.get("dropped", [])),
            Condition(**cond) if cond is not None else None,
        )


def _dtype(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    return "float"


def _check_names(frame: pd.DataFrame) -> None:
    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"duplicate column names: {', '.join(dupes)}; rename them")


def _check_numeric(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    bad = [
        c
        for c in columns
        if not (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    ]
    if bad:
        if len(frame.columns) == 1 and any(s in str(frame.columns[0]) for s in ";|\t"):
            raise DataError(
                f"the file has one column named {str(frame.columns[0])[:40]!r}: it looks like it "
                "uses another separator; save it as comma-separated .csv or tab-separated .tsv"
            )
        example = frame[bad[0]].dropna()
        sample = f" (e.g. {str(example.iloc[0])[:30]!r})" if len(example) else ""
        names = ", ".join(repr(str(b)) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
        drops = " ".join(f"--drop {b}" for b in bad[:5])
        raise DataError(
            f"non-numeric column(s) {names}{sample}: aecli models numeric columns only; "
            f"leave them out with {drops}"
        )


def _as_float(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    values = frame[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise DataError(
            f"column {columns[col]!r} has an infinite value in row {row + 1}; fix or drop it"
        )
    return values
