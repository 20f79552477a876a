"""What files a table input names: one CSV / TSV / Parquet file (plain or compressed), '-' for
stdin, a URL, or many files as one data set — a folder (a Parquet data set as Spark or pyarrow
write it, `key=value` hive partition folders included) or a quoted glob — in a stable order
(sorted by path)."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aecli.data.compression import URL
from aecli.data.shards import Shard
from aecli.errors import DataError
from aecli.store.atomic import STDIO

READERS = {".csv": ",", ".tsv": "\t", ".tab": "\t", ".txt": ","}
PARQUET = (".parquet", ".pq")
PACKED = (".gz", ".bz2", ".xz", ".zst", ".zip")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")  # what is not a table


@dataclass
class TableFile:
    """One file of a table input, with the values of its hive partition folders."""

    path: str
    parquet: bool = False
    partitions: dict[str, Any] = field(default_factory=dict)
    name: str = ""  # its path relative to the folder or glob: the name of its --out-dir output


def array_table(source: Any, columns: list[str] | None = None) -> Any:
    """A NumPy array (rows x columns) as a DataFrame with `columns` (default x0, x1, ...:
    scikit-learn's names for unnamed features); any other source as it is."""
    import numpy as np

    if not isinstance(source, np.ndarray):
        return source
    import pandas as pd

    if source.ndim != 2:
        raise DataError(
            f"an array of data must be 2-D (rows x columns), not of shape {source.shape}; "
            "images are read from files: give a folder, a glob or an image file"
        )
    if columns is None:
        columns = [f"x{i}" for i in range(source.shape[1])]
    elif len(columns) != source.shape[1]:
        raise DataError(
            f"the array has {source.shape[1]} columns; {len(columns)} were expected "
            f"({columns[0]}..{columns[-1]})"
        )
    return pd.DataFrame(source, columns=columns)


def suffix_of(path: Path) -> str:
    """The table suffix, under any compression suffix: 'a.csv.gz' -> '.csv'."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in PACKED and len(suffixes) > 1:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def is_table_file(path: Path) -> bool:
    return suffix_of(path) in READERS or suffix_of(path) in PARQUET


def is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def is_table_collection(source: Any) -> bool:
    """True for a folder that holds tables (and no images), or a glob naming table files."""
    text = str(source)
    path = Path(text)
    if path.is_dir():
        return bool(_folder_tables(path)) and not _has_images(path)
    if path.exists() or not is_glob(text):
        return False
    if is_table_file(path):
        return True
    matches = [Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file()]
    return bool(matches) and all(is_table_file(f) for f in matches)


def table_files(source: Any) -> list[TableFile]:
    """The files `source` names, in order, each checked to exist and be a table (of a `Shard`
    of many files, its part of them)."""
    if isinstance(source, Shard):
        files = table_files(source.source)
        return source.part(files) if len(files) > 1 else files
    text = str(source)
    if text == STDIO or URL.match(text):
        return [TableFile(text, name=text)]
    path = Path(text)
    if path.is_dir():
        found = _folder_tables(path)
        if not found:
            raise DataError(
                f"{path} is a folder without CSV, TSV or Parquet files; give a table file"
            )
        return [_with_partitions(f, path) for f in found]
    if not path.exists() and is_glob(text):
        matches = sorted(Path(f) for f in glob.glob(text, recursive=True) if Path(f).is_file())
        tables = [f for f in matches if is_table_file(f)]
        if not tables:
            raise DataError(f"{text} matches no CSV, TSV or Parquet files; check the pattern")
        root = Path(os.path.commonpath([f.parent for f in tables]))
        return [_with_partitions(f, root) for f in tables]
    return [_single(path, text)]


def _single(path: Path, text: str) -> TableFile:
    if not path.exists():
        hint = (
            "; quote a glob ('data/*.csv') so the shell does not expand it" if "*" in text else ""
        )
        raise DataError(f"{path}: no such file; check the path{hint}")
    suffix = suffix_of(path)
    if suffix not in READERS and suffix not in PARQUET:
        raise DataError(
            f"{path}: unknown file type {suffix or '(no extension)'!r}; use .csv, .tsv or .parquet"
        )
    return TableFile(text, suffix in PARQUET, name=path.name)


def _folder_tables(root: Path) -> list[Path]:
    """Table files under `root`, skipping hidden and '_' files (_SUCCESS, _metadata)."""
    out = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")))
        for name in files:
            if not name.startswith((".", "_")) and is_table_file(Path(name)):
                out.append(Path(folder) / name)
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def _has_images(root: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in root.iterdir() if p.is_file())


def _with_partitions(path: Path, root: Path) -> TableFile:
    relative = path.relative_to(root)
    partitions: dict[str, Any] = {}
    for part in relative.parts[:-1]:
        key, eq, value = part.partition("=")
        if eq and key:
            partitions[key] = _partition_value(value)
    return TableFile(str(path), suffix_of(path) in PARQUET, partitions, relative.as_posix())


def _partition_value(text: str) -> Any:
    from urllib.parse import unquote

    value = unquote(text)
    if value == "__HIVE_DEFAULT_PARTITION__":
        return None
    try:
        return int(value)
    except ValueError:
        return value
