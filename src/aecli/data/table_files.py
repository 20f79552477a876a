"""Table files: CSV, TSV and Parquet in (by extension; '-' is CSV on stdin) and out (atomically;
'-' is CSV on stdout), with one-line errors for files that are not tables."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aecli.errors import DataError, UserError
from aecli.store.atomic import STDIO, atomic_path

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
