"""Tables read in blocks: CSV / TSV (plain or .gz .bz2 .xz .zst, '-' for stdin) through pyarrow's
streaming CSV reader and Parquet through its batch reader, so memory does not grow with the rows.

Each block comes with the global number of its first row, so that an error can name the row in
the whole input. Column types are fixed before reading (the model's columns by what the model was
trained on, every other column as text, copied through as written), so that a later block never
disagrees with the first; a cell that does not fit its column is found and named by row.
"""

from __future__ import annotations

import io
import os
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from aecli.data.compression import URL, _compressor, fetch_url
from aecli.data.csv_dialect import SAMPLE_BYTES, Dialect, detect
from aecli.data.input_meter import Meter
from aecli.data.shards import Shard
from aecli.errors import DataError
from aecli.store.atomic import STDIO

BLOCK_BYTES = 4 << 20  # bytes of CSV text (or of Parquet values) per block: the per-block cost
# (to pandas, the checks, the writer) is most of what a block costs; at 1 MiB, encode took 1.34x
# (CSV) and 1.5x (Parquet) the CPU time of the bare pyarrow pipeline of bench_scale
BLOCK_ENV = "AECLI_BLOCK_BYTES"  # tests force tiny blocks so that every path crosses blocks
ARROW = {"float": "float64", "int": "float64", "bool": "bool_", "str": "string"}
FAILED = re.compile(r"In CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'")
WHAT = {"float64": "numbers", "bool_": "true/false values"}


class BadCell(DataError):
    """A cell that does not fit its column's type; `column` names the column."""

    def __init__(self, message: str, column: str) -> None:
        super().__init__(message)
        self.column = column


def block_bytes() -> int:
    """Bytes per block: AECLI_BLOCK_BYTES when set (at least 64), else 4 MiB."""
    value = os.environ.get(BLOCK_ENV, "")
    return max(64, int(value)) if value.isdigit() else BLOCK_BYTES


@dataclass
class Block:
    """`frame`: some rows of the input; `start`: the number of rows before them (0-based)."""

    start: int
    frame: pd.DataFrame


def table_blocks(
    source: Any, dialect: Dialect | None = None, types: Mapping[str, str] | None = None
) -> Iterator[Block]:
    """The rows of `source` (a path, a folder or glob of tables, '-', a URL or a DataFrame) as
    blocks in order. `types` maps column names to "float" / "int" / "bool" / "str" (what the
    model reads them as); other columns of a CSV are read as text."""
    from aecli.data.table_sources import array_table, table_files

    source = array_table(source)
    if isinstance(source, pd.DataFrame):
        if len(source) == 0:
            raise DataError("the table has no rows")
        yield Block(0, source)
        return
    given = Dialect() if dialect is None else dialect
    if isinstance(source, Shard) and len(table_files(source.source)) == 1:
        yield from _row_shard(source, given, dict(types or {}))
        return
    start = 0
    files = table_files(source)
    meter = Meter([one.path for one in files])
    for one in files:
        for frame in _file_blocks(one, given, dict(types or {}), meter):
            for key, value in one.partitions.items():
                if key not in frame.columns:
                    frame[key] = value
            if len(frame):
                meter.report(start + len(frame))
                yield Block(start, frame)
                start += len(frame)
        meter.next_file()
    if start == 0:
        raise DataError(f"{source} has a header but no data rows")
    meter.report(start)


def _row_shard(shard: Shard, given: Dialect, types: dict[str, str]) -> Iterator[Block]:
    """The blocks of one table file's rows [start, stop) of its shard; rows keep their numbers
    in the whole file (for messages). The file is read once more to count its rows (Parquet:
    from its metadata)."""
    from aecli.data.table_sources import table_files

    one = table_files(shard.source)[0]
    if one.parquet:
        import pyarrow.parquet as pq

        n = pq.ParquetFile(one.path).metadata.num_rows
    else:
        n = sum(len(frame) for frame in _file_blocks(one, given, {}, Meter([])))
    start, stop = shard.bounds(n)
    for block in table_blocks(shard.source, given, types):
        end = block.start + len(block.frame)
        if end <= start:
            continue
        if block.start >= stop:
            return
        lo, hi = max(start - block.start, 0), min(stop, end) - block.start
        yield Block(block.start + lo, block.frame.iloc[lo:hi].reset_index(drop=True))


def _file_blocks(
    one: Any, given: Dialect, types: dict[str, str], meter: Meter
) -> Iterator[pd.DataFrame]:
    from aecli.data.table_sources import PARQUET, READERS, suffix_of

    name = str(one.path)
    if one.parquet:
        yield from _parquet_blocks(one, meter)
        return
    if name == STDIO:
        opener = _stdin_opener(meter)
        yield from _csv_blocks(opener, ",", given, types, "stdin", reopen=False, meter=meter)
        return
    if URL.match(name):
        data = fetch_url(name)
        sep = READERS.get(suffix_of(Path(name.split("?")[0])), ",")
        yield from _csv_blocks(
            lambda: io.BytesIO(data), sep, given, types, name, reopen=True, meter=meter
        )
        return
    path = Path(name)
    suffix = suffix_of(path)
    assert suffix not in PARQUET
    if path.stat().st_size == 0:
        raise DataError(f"{path} is empty; it needs a header row and at least one data row")
    opener = _file_opener(path, meter)
    yield from _csv_blocks(opener, READERS[suffix], given, types, name, reopen=True, meter=meter)


def _file_opener(path: Path, meter: Meter) -> Callable[[], Any]:
    compressor = _compressor(path.suffix.lower())

    def opener() -> Any:
        raw = meter.watch(open(path, "rb"))  # noqa: SIM115 (the meter closes it)
        return raw if compressor is None else compressor.open(raw, "rb")

    return opener


def _stdin_opener(meter: Meter) -> Callable[[], Any]:
    """stdin, once: its first bytes are read for the dialect and replayed to the reader."""
    head = sys.stdin.buffer.read(SAMPLE_BYTES)
    if not head.strip():
        raise DataError("stdin is empty; pipe a CSV with a header row into '-'")
    replay = _Replay(head, sys.stdin.buffer)
    meter.position = lambda: replay.count
    return lambda: replay


class _Replay(io.RawIOBase):
    """`head`, then the rest of `rest`: a stream whose first bytes were already read."""

    def __init__(self, head: bytes, rest: Any) -> None:
        self._head = memoryview(head)
        self._rest = rest
        self.count = 0  # bytes handed out so far

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if len(self._head):
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            self.count += n
            return n
        data = self._rest.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


def _csv_blocks(
    opener: Callable[[], Any],
    default_sep: str,
    given: Dialect,
    types: dict[str, str],
    name: str,
    reopen: bool,
    meter: Meter,
) -> Iterator[pd.DataFrame]:
    import pyarrow as pa

    handle = _BufferedHead(opener(), name)
    raw_position, parsed = meter.position, 0
    # pyarrow reads ahead: the file position leads the rows; count the blocks parsed instead
    meter.position = lambda: int(raw_position() * min(1.0, parsed / max(1, handle.count)))
    dialect = detect(handle.head, default_sep, given, name)
    names = _header(handle.head, dialect, name)
    if dialect.thousands is not None:  # pyarrow has no thousands separator: pandas in chunks
        yield from _pandas_blocks(handle, dialect, names, types, name)
        return
    try:
        reader = _open_csv(handle, dialect, names, types)
        for batch in reader:
            parsed += block_bytes()
            yield batch.to_pandas()
    except pa.ArrowInvalid as exc:
        failed = FAILED.search(str(exc))
        if failed is None:
            raise DataError(f"{name} is not a well-formed table: {_first_line(exc)}") from None
        column = names[int(failed.group(1))]
        if reopen:
            _name_bad_row(opener, dialect, names, types, name)
        what = WHAT.get(ARROW.get(types.get(column, "str"), ""), "values of its type")
        raise DataError(
            f"{name}: column {column!r} should hold {what} but holds {failed.group(3)[:30]!r}; "
            "fix or empty those cells (empty cells count as missing)"
        ) from None
    except UnicodeDecodeError:
        raise DataError(_encoding_hint(name, dialect)) from None


def _open_csv(handle: Any, dialect: Dialect, names: list[str], types: dict[str, str]) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    encoding = dialect.encoding or "utf-8"
    read = pacsv.ReadOptions(
        block_size=block_bytes(),
        column_names=names,
        skip_rows=1,
        encoding="utf8" if encoding.lower() in ("utf-8", "utf8") else encoding,
    )
    parse = pacsv.ParseOptions(delimiter=dialect.sep or ",", newlines_in_values=True)
    column_types = {n: getattr(pa, ARROW.get(types.get(n, "str"), "string"))() for n in names}
    convert = pacsv.ConvertOptions(
        column_types=column_types,
        strings_can_be_null=True,
        decimal_point=dialect.decimal or ".",
        true_values=["True", "TRUE", "true"],
        false_values=["False", "FALSE", "false"],
    )
    return pacsv.open_csv(handle, read_options=read, parse_options=parse, convert_options=convert)


class _BufferedHead(io.RawIOBase):
    """A binary stream whose first SAMPLE_BYTES are kept in `head` (for the dialect)."""

    def __init__(self, raw: Any, name: str) -> None:
        try:
            head = raw.read(SAMPLE_BYTES)
        except (OSError, EOFError, ValueError) as exc:
            raise DataError(f"{name} could not be decompressed ({_first_line(exc)})") from None
        if not head.strip():
            raise DataError(f"{name} is empty; it needs a header row and at least one data row")
        self.head = head
        self._inner = _Replay(head, raw)
        self._raw = raw

    @property
    def count(self) -> int:
        """Bytes handed to the reader so far."""
        return self._inner.count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._inner.readinto(buffer)

    def close(self) -> None:
        if self._raw is not sys.stdin.buffer and not isinstance(self._raw, _Replay):
            self._raw.close()
        super().close()


def _header(head: bytes, dialect: Dialect, name: str) -> list[str]:
    """The header row's names, made unique and non-empty as pandas makes them."""
    import csv

    try:
        text = head.decode(dialect.encoding or "utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        text = head[: exc.start].decode(dialect.encoding or "utf-8")
    try:
        row = next(csv.reader(io.StringIO(text, newline=""), delimiter=dialect.sep or ","), [])
    except csv.Error as exc:
        raise DataError(f"{name}: its header row cannot be read ({exc})") from None
    if not row:
        raise DataError(f"{name} has no header row and no data")
    names: list[str] = []
    for i, raw in enumerate(row):
        base = raw if raw.strip() else f"Unnamed: {i}"
        label, n = base, 0
        while label in names:
            n += 1
            label = f"{base}.{n}"
        names.append(label)
    return names


def _name_bad_row(
    opener: Callable[[], Any], dialect: Dialect, names: list[str], types: dict[str, str], name: str
) -> None:
    """Read the file again with every typed column as text, and raise the error naming the
    first cell that does not fit its column's type."""
    done = 0
    with _BufferedHead(opener(), name) as handle:
        for batch in _open_csv(handle, dialect, names, {}):
            frame = batch.to_pandas()
            found = []
            for column, kind in types.items():
                if column in frame.columns and kind != "str":
                    bad = _bad_cells(frame[column], kind, dialect)
                    if len(bad):
                        found.append((int(bad.index[0]), column, kind, str(bad.iloc[0])))
            if found:
                index, column, kind, value = min(found)
                raise BadCell(
                    f"{name}: column {column!r} should hold {WHAT[ARROW[kind]]} but row "
                    f"{done + index + 1} holds {value[:30]!r}; fix or empty those cells (empty "
                    "cells count as missing)",
                    column,
                )
            done += batch.num_rows


def _bad_cells(values: pd.Series, kind: str, dialect: Dialect) -> pd.Series:
    present = values.dropna()
    if kind == "bool":
        return present[~present.isin(["True", "TRUE", "true", "False", "FALSE", "false"])]
    text = present.str.replace(dialect.decimal or ".", ".", regex=False)
    return present[pd.to_numeric(text, errors="coerce").isna()]


def _pandas_blocks(
    handle: Any, dialect: Dialect, names: list[str], types: dict[str, str], name: str
) -> Iterator[pd.DataFrame]:
    """pandas' chunked reader, for what pyarrow cannot read (thousands separators)."""
    text_columns = {n: str for n in names if types.get(n, "str") == "str"}
    rows = max(1, block_bytes() // max(8, 8 * len(names)))
    try:
        chunks = pd.read_csv(
            handle,
            sep=dialect.sep,
            decimal=dialect.decimal or ".",
            thousands=dialect.thousands,
            encoding=dialect.encoding,
            names=names,
            header=0,
            dtype=text_columns,
            chunksize=rows,
        )
        yield from chunks
    except UnicodeDecodeError:
        raise DataError(_encoding_hint(name, dialect)) from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataError(f"{name} is not a well-formed table: {_first_line(exc)}") from None


def _parquet_blocks(one: Any, meter: Meter) -> Iterator[pd.DataFrame]:
    import pyarrow.parquet as pq

    try:
        reader = pq.ParquetFile(one.path, pre_buffer=False)  # pre-buffering grows with the file
        width = max(1, len(reader.schema_arrow))
        rows = max(1, block_bytes() // (8 * width))
        size, total, done = meter.sizes[meter.index] or 0, max(1, reader.metadata.num_rows), 0
        meter.position = lambda: size * done // total
        for batch in reader.iter_batches(batch_size=rows):
            done += batch.num_rows
            yield batch.to_pandas()
    except DataError:
        raise
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DataError(f"{one.path} could not be read as Parquet ({_first_line(exc)})") from None


def _encoding_hint(name: str, dialect: Dialect) -> str:
    return (
        f"{name} is not {dialect.encoding or 'UTF-8'} text; say its encoding with --encoding "
        "(e.g. --encoding latin-1), or save it as UTF-8"
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
