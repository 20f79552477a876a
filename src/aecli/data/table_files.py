"""Table files: CSV, TSV and Parquet in (by extension; '-' is CSV on stdin) and out (atomically;
'-' is CSV on stdout), with one-line errors for files that are not tables."""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aecli.data.compression import COMPRESSED, URL, _compressor, compressed_writer, fetch_url
from aecli.data.csv_dialect import SAMPLE_BYTES, Dialect, detect
from aecli.data.table_sources import (
    PARQUET,
    READERS,
    array_table,
    is_table_collection,
    suffix_of,
    table_files,
)
from aecli.errors import DataError, UserError
from aecli.store.atomic import STDIO, atomic_path


def _suffix(path: Path) -> str:
    return suffix_of(path)


def read_table(source: str | Path | pd.DataFrame, dialect: Dialect | None = None) -> pd.DataFrame:
    """Read a path (CSV, TSV, Parquet, compressed .gz/.bz2/.xz/.zst; '-' for CSV on stdin; a URL
    through fsspec where it is installed), or pass a DataFrame through. What `dialect` leaves
    open (encoding, separator, decimal mark) is detected from the file's first bytes."""
    source = array_table(source)
    if isinstance(source, pd.DataFrame):
        return source
    given = Dialect() if dialect is None else dialect
    name = str(source)
    if name == STDIO:
        data = sys.stdin.buffer.read()
        if not data.strip():
            raise DataError("stdin is empty; pipe a CSV with a header row into '-'")
        return _read_text(io.BytesIO(data), data[:SAMPLE_BYTES], ",", given, "stdin")
    if URL.match(name):
        data = fetch_url(name)
        sep = READERS.get(_suffix(Path(name.split("?")[0])), ",")
        return _read_text(io.BytesIO(data), data[:SAMPLE_BYTES], sep, given, name)
    if is_table_collection(name):
        return _read_collection(name, given)
    path = Path(name)
    if not path.exists():
        raise DataError(f"{path}: no such file; check the path{_glob_hint(name)}")
    if path.is_dir():
        raise DataError(f"{path} is a folder; give a CSV, TSV or Parquet file")
    suffix = _suffix(path)
    if suffix in PARQUET:
        try:
            frame = _read_parquet(path)
        except Exception as exc:  # pyarrow raises many types for damaged files
            raise DataError(f"{path} could not be read as Parquet ({_first_line(exc)})") from None
    elif suffix in READERS:
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty; it needs a header row and at least one data row")
        frame = _read_text(path, _head(path), READERS[suffix], given, str(path))
    else:
        raise DataError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; use .csv, .tsv or .parquet"
        )
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows")
    return frame


def _read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file as a frame, holding little more than the frame at any time: no
    pre-buffered file, and (pandas 3) the Arrow columns freed as they are converted, one
    block per column; the memory Arrow's allocator keeps afterwards is handed back."""
    how: dict[str, Any] = {"pre_buffer": False}
    if int(pd.__version__.split(".")[0]) >= 3:  # to_pandas_kwargs came with pandas 3
        how["to_pandas_kwargs"] = {"self_destruct": True, "split_blocks": True}
    frame = pd.read_parquet(path, **how)
    release_arrow_memory()
    return frame


def release_arrow_memory() -> None:
    """Hand back the memory Arrow's allocator keeps after a read (where pyarrow is loaded)."""
    if "pyarrow" in sys.modules:
        sys.modules["pyarrow"].default_memory_pool().release_unused()


def _read_collection(name: str, given: Dialect) -> pd.DataFrame:
    """Many files as one table, in order, each file's hive partition values as columns."""
    frames = []
    for one in table_files(name):
        frame = read_table(one.path, given)
        for key, value in one.partitions.items():
            if key not in frame.columns:
                frame[key] = value
        frames.append(frame)
    columns = [list(f.columns) for f in frames]
    if any(set(c) != set(columns[0]) for c in columns):
        raise DataError(f"the files of {name} do not all have the same columns")
    return pd.concat(frames, ignore_index=True)


def _read_text(source: Any, head: bytes, sep: str, given: Dialect, name: str) -> pd.DataFrame:
    dialect = detect(head, sep, given, name)
    frame = _read_csv(source, dialect, name)
    if len(frame) == 0:
        raise DataError(f"{name} has a header but no data rows")
    return frame


def _head(path: Path) -> bytes:
    """The first bytes of the file, decompressed by its suffix."""
    opener = _compressor(path.suffix.lower())
    try:
        if opener is None:
            with open(path, "rb") as handle:
                return handle.read(SAMPLE_BYTES)
        with opener.open(path, "rb") as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path} could not be decompressed ({_first_line(exc)})") from None


def _glob_hint(name: str) -> str:
    return "; quote a glob ('scans/*.png') so the shell does not expand it" if "*" in name else ""


def _read_csv(source: Any, dialect: Dialect, name: str) -> pd.DataFrame:
    try:
        return pd.read_csv(
            source,
            sep=dialect.sep,
            decimal=dialect.decimal or ".",
            thousands=dialect.thousands,
            encoding=dialect.encoding,
        )
    except UnicodeDecodeError:
        raise DataError(
            f"{name} is not {dialect.encoding or 'UTF-8'} text; say its encoding with "
            "--encoding (e.g. --encoding latin-1), or save it as UTF-8"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{name} has no header row and no data") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{name} is not a well-formed table: {_first_line(exc)}") from None
    except (ValueError, OSError, EOFError, ImportError) as exc:
        raise DataError(f"{name} could not be read: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def write_table(frame: pd.DataFrame, target: str | Path, *, force: bool = False) -> None:
    """Write CSV / TSV / Parquet by extension, atomically; '-' writes CSV to stdout."""
    with table_sink(target, force) as sink:
        sink.write(frame)


class TableSink:
    """Writes a table block by block: CSV text (compressed when the name says so) with one
    header, or Parquet row groups in the first block's column types."""

    def __init__(self, handle: Any, delimiter: str | None, parquet_path: Path | None) -> None:
        self._handle = handle
        self._delimiter = delimiter
        self._parquet_path = parquet_path
        self._writer: Any = None
        self.columns: list[str] | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa

        columns = [str(c) for c in frame.columns]
        if self.columns is None:
            self.columns = columns
        elif columns != self.columns:
            raise DataError("the blocks of a table disagree on its columns")
        if self._parquet_path is not None:
            table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
            self._write_parquet(table)
        else:
            _write_csv(_text_table(frame), self._handle, self._delimiter or ",", self.rows == 0)
            if self._handle is sys.stdout.buffer:
                self._handle.flush()
        self.rows += len(frame)

    def _write_parquet(self, table: Any) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:
            schema = pa.schema(
                [f.with_type(pa.string()) if pa.types.is_null(f.type) else f for f in table.schema]
            ).remove_metadata()
            self._writer = pq.ParquetWriter(self._parquet_path, schema)
        schema = self._writer.schema
        if not table.schema.remove_metadata().equals(schema):
            try:
                table = table.cast(schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise DataError(
                    f"a later block of the output does not fit the first one's column types "
                    f"({_first_line(exc)}); write CSV instead"
                ) from None
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        elif self._parquet_path is not None:  # no rows: an empty file with no columns
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self._parquet_path)


@contextmanager
def table_sink(target: str | Path, force: bool = False) -> Iterator[TableSink]:
    """A TableSink onto `target` ('-': CSV on stdout), written atomically: the file appears
    whole when the block closes without an error, and not at all otherwise."""
    if str(target) == STDIO:
        sink = TableSink(sys.stdout.buffer, ",", None)
        yield sink
        sys.stdout.buffer.flush()
        return
    path = Path(target)
    suffix = _suffix(path)
    if suffix not in READERS and suffix not in PARQUET:
        raise UserError(f"{path}: unknown output type {suffix!r}; use .csv, .tsv or .parquet")
    packed = path.suffix.lower() if path.suffix.lower() in COMPRESSED else ""
    if packed and suffix in PARQUET:
        raise UserError(f"{path}: Parquet compresses itself; name it {path.stem}")
    with atomic_path(path, force) as tmp:
        if suffix in PARQUET:
            sink = TableSink(None, None, tmp)
            try:
                yield sink
            finally:
                sink.close()
            return
        with compressed_writer(tmp, packed) as handle:
            yield TableSink(handle, READERS[suffix], None)


def _text_table(frame: pd.DataFrame) -> Any:
    """The table as CSV should show it: each float cell at the precision it holds (a value
    read from a file as it was written, a float32 model output in float32's shortest form),
    whole numbers with '.0' so that their type survives the round trip."""
    import pyarrow as pa

    columns = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column) and column.notna().any():
            single = column.dtype == np.float32  # a model's output: no float64 digits to keep
            columns[str(name)] = _float_text(column.to_numpy(np.float32 if single else np.float64))
        else:
            columns[str(name)] = pa.Array.from_pandas(column)
    return pa.table(columns)


def _float_text(values: np.ndarray) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    finite = np.isfinite(values)
    if values.dtype == np.float32:
        text = pc.cast(pa.array(values, from_pandas=True), pa.string())
    else:
        with np.errstate(over="ignore", invalid="ignore"):
            single = values.astype(np.float32)
            exact = finite & (single.astype(np.float64) == values)
        wide = pc.cast(pa.array(values, from_pandas=True), pa.string())
        narrow = pc.cast(pa.array(np.where(exact, single, 0), pa.float32()), pa.string())
        text = pc.if_else(pa.array(exact), narrow, wide)
    whole = finite & (np.mod(np.where(finite, values, 0), 1) == 0) & (np.abs(values) < 1e15)
    if not whole.any():
        return text
    plain = pc.invert(pc.match_substring(text, "e"))
    dotted = pc.and_(pa.array(whole), pc.fill_null(plain, False))
    return pc.if_else(dotted, pc.binary_join_element_wise(text, ".0", ""), text)


def _write_csv(table: Any, sink: Any, delimiter: str, header: bool = True) -> None:
    """Cells quoted only where needed: by pyarrow (fast) when no text cell needs quotes, else
    in blocks by Python's csv, which quotes just the cells that need it."""
    import csv

    import pyarrow.csv as pacsv

    if header:
        names = io.StringIO()
        csv.writer(names, delimiter=delimiter, lineterminator="\n").writerow(table.column_names)
        sink.write(names.getvalue().encode())
    if not _needs_quotes(table, delimiter):
        options = pacsv.WriteOptions(
            include_header=False, delimiter=delimiter, quoting_style="none"
        )
        pacsv.write_csv(table, sink, write_options=options)
        return
    for batch in table.to_batches(max_chunksize=65536):
        block = io.StringIO()
        writer = csv.writer(block, delimiter=delimiter, lineterminator="\n")
        columns = [c.to_pylist() for c in batch.columns]
        writer.writerows([_cell(v) for v in row] for row in zip(*columns, strict=True))
        sink.write(block.getvalue().encode())


def _cell(value: Any) -> Any:
    """A cell as pyarrow writes it: missing is empty, booleans are true / false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _needs_quotes(table: Any, delimiter: str) -> bool:
    """True if any text cell holds the delimiter, a quote or a line break."""
    import pyarrow as pa
    import pyarrow.compute as pc

    pattern = "[" + re.escape(delimiter) + '"\\n\\r]'
    for column in table.columns:
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if text and pc.any(pc.match_substring_regex(column, pattern)).as_py():
            return True
    return False
