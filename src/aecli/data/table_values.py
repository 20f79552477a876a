"""A table's cells as model-space values: numbers checked and read as floats, categories
one-hot. Errors name the row in the whole input (`first_row`: the rows of earlier blocks), and
unseen categories are reported once per column however many blocks hold them."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from aecli.data.column_checks import _guess_sep
from aecli.data.table_condition import _label
from aecli.errors import AecliWarning, DataError


def one_hot(series: pd.Series, col: Any, warned: set[str] | None = None) -> np.ndarray:
    """One-hot rows; a missing cell, or a label unseen in training (with a warning, once per
    column when `warned` is kept across blocks), is NaN."""
    assert col.categories is not None
    index = {label: i for i, label in enumerate(col.categories)}
    labels = [None if pd.isna(v) else _label(v) for v in series]
    unseen = sorted({v for v in labels if v is not None and v not in index})
    if unseen:
        warn_unseen(col.name, unseen, warned)
    codes = np.array([index.get(v, -1) if v is not None else -1 for v in labels], np.int64)
    return one_hot_rows(codes, col.width)


def one_hot_rows(codes: np.ndarray, width: int) -> np.ndarray:
    """float32 rows with a 1 at each row's code (NaN rows where the code is -1)."""
    out = np.zeros((len(codes), width), np.float32)
    known = codes >= 0
    out[~known] = np.nan
    out[np.flatnonzero(known), codes[known]] = 1.0
    return out


def warn_unseen(name: str, unseen: Sequence[str], warned: set[str] | None) -> None:
    """Report a column's labels unseen in training (treated as missing), once per column when
    `warned` is kept across blocks."""
    if warned is not None and name in warned:
        return
    if warned is not None:
        warned.add(name)
    shown = ", ".join(repr(v) for v in unseen[:5])
    warnings.warn(
        f"column {name!r} has categories unseen in training ({shown}); they are treated as missing",
        AecliWarning,
        stacklevel=5,
    )


def check_numeric(frame: pd.DataFrame, columns: Sequence[str], first_row: int = 0) -> None:
    """Refuse columns of the model's numbers that hold text, naming the first bad row."""
    types = dict(zip(frame.columns, frame.dtypes, strict=True))  # one look, not one per column
    bad = [
        c
        for c in columns
        if not (pd.api.types.is_numeric_dtype(types[c]) or pd.api.types.is_bool_dtype(types[c]))
    ]
    if not bad:
        return
    if len(frame.columns) == 1 and any(s in str(frame.columns[0]) for s in ";|\t"):
        raise DataError(
            f"the file has one column named {str(frame.columns[0])[:40]!r}: it looks like it "
            f"uses another separator; say it with --sep {_guess_sep(frame)!r}"
        )
    present = frame[bad[0]].dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    if len(present) and numbers.notna().any() and numbers.isna().any():
        cell = present[numbers.isna()]
        row = first_row + int(frame.index.get_loc(cell.index[0])) + 1
        raise DataError(
            f"column {bad[0]!r} is numeric but row {row} holds {str(cell.iloc[0])[:30]!r}; fix "
            f"or empty those cells (empty cells count as missing), or leave it out with "
            f"--drop {bad[0]}"
        )
    sample = f" (e.g. {str(present.iloc[0])[:30]!r})" if len(present) else ""
    names = ", ".join(repr(str(b)) for b in bad[:5]) + (" ..." if len(bad) > 5 else "")
    drops = " ".join(f"--drop {b}" for b in bad[:5])
    raise DataError(
        f"non-numeric column(s) {names}{sample}: aecli models numeric columns only; "
        f"leave them out with {drops}"
    )


def as_float(
    frame: pd.DataFrame, columns: Sequence[str], first_row: int = 0, check: bool = True
) -> np.ndarray:
    """The columns as float64 (NaN where missing); an infinite value is refused by row (unless
    not `check`: the caller looks for them itself)."""
    whole = list(frame.columns) == list(columns)  # every column: no selection to copy
    picked = frame if whole else frame[list(columns)]
    values = picked.to_numpy(dtype=np.float64, na_value=np.nan)
    if check and np.isinf(values).any():
        row, col = np.argwhere(np.isinf(values))[0]
        raise infinite_value(columns[col], first_row + row)
    return values


def infinite_value(column: Any, row: int) -> DataError:
    """The error for an infinite value in `column` at row position `row` (from 0)."""
    return DataError(f"column {column!r} has an infinite value in row {row + 1}; fix or drop it")


MAX_DECIMALS = 6


def decimals(values: np.ndarray) -> int | None:
    """The fewest decimals d (at most MAX_DECIMALS) such that every value is a multiple of
    10^-d, as far as float32 (the precision generated values have) tells; None if there is no
    such d (or no value). Generated values are rounded to it: 39.1, not 39.12346."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    single = values.astype(np.float32)
    for d in range(MAX_DECIMALS + 1):
        if np.array_equal(np.round(values, d).astype(np.float32), single):
            return d
    return None
