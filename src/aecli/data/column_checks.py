"""What real-world tables hide, found before a column is modelled: dates written as text,
numbers written with thousands separators, a saved pandas index, constant columns, and
category labels that differ only by case or spaces."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd

from aecli.errors import AecliWarning, DataError

DATE = re.compile(
    r"^\s*("
    r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
    r"|\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}( \d{1,2}:\d{2}(:\d{2})?)?"
    r"|\d{4}/\d{1,2}/\d{1,2}( \d{1,2}:\d{2}(:\d{2})?)?"
    r")\s*$"
)
COMMA_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(,\d{3})+(\.\d+)?\s*$")
DOT_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}(\.\d{3})+(,\d+)?\s*$")
SPACE_THOUSANDS = re.compile(r"^\s*[-+]?\d{1,3}([ \u00a0\u202f]\d{3})+([.,]\d+)?\s*$")
INDEX_NAME = re.compile(r"^(Unnamed: \d+|index)$")
MIN_INDEX_ROWS = 10


def refuse_text_dates_and_separators(series: pd.Series, name: str) -> None:
    """Refuse a text column of dates, or of numbers written with thousands separators,
    naming the option that reads it right."""
    present = series.dropna().astype(str)
    if not len(present):
        return
    if present.str.match(DATE).mean() >= 0.9:
        raise DataError(
            f"column {name!r} holds dates (e.g. {present.iloc[0][:30]!r}), which aecli does not "
            f"model; leave it out with --drop {name}, or convert it to numbers (e.g. days since "
            "a date) first"
        )
    plain = present.str.match(r"^\s*[-+]?\d+([.,]\d+)?\s*$")
    for pattern, flags in (
        (COMMA_THOUSANDS, "--thousands ,"),
        (DOT_THOUSANDS, "--thousands . --decimal ,"),
        (SPACE_THOUSANDS, "--thousands ' '"),
    ):
        hits = present.str.match(pattern)
        if hits.any() and (hits | plain).mean() >= 0.9:
            example = present[hits].iloc[0]
            raise DataError(
                f"column {name!r} holds numbers written with thousands separators (e.g. "
                f"{example[:30]!r}); read them as numbers with {flags}"
            )


def is_saved_index(series: pd.Series, name: str) -> bool:
    """A column pandas wrote as its index: named 'Unnamed: 0', or the integers 0..n-1."""
    if INDEX_NAME.match(name) and (pd.api.types.is_integer_dtype(series) or name != "index"):
        return True
    if len(series) < MIN_INDEX_ROWS or not pd.api.types.is_integer_dtype(series):
        return False
    return bool(np.array_equal(series.to_numpy(), np.arange(len(series))))


def warn_index(name: str) -> None:
    warnings.warn(
        f"column {name!r} looks like a saved row index (0, 1, 2, ...): not modelled, copied "
        f"through; say --id-col {name} to silence this, or save the file with index=False",
        AecliWarning,
        stacklevel=4,
    )


def warn_oddities(series: pd.Series, name: str, categorical: bool) -> None:
    """One warning line for a constant column, one for labels equal but for case or spaces."""
    present = series.dropna()
    if len(present) > 1 and present.nunique() == 1:
        warnings.warn(
            f"column {name!r} has the same value ({str(present.iloc[0])[:30]!r}) in every row: "
            f"it tells the model nothing; leave it out with --drop {name}",
            AecliWarning,
            stacklevel=4,
        )
        return
    if not categorical or pd.api.types.is_numeric_dtype(series):
        return
    labels = pd.Series(present.astype(str).unique())
    folded = labels.str.strip().str.casefold()
    clashes = labels[folded.duplicated(keep=False)]
    if len(clashes):
        shown = ", ".join(repr(v) for v in sorted(clashes)[:4])
        warnings.warn(
            f"column {name!r} has labels that differ only by case or spaces ({shown}): they "
            "are modelled as different categories; clean them if they mean the same",
            AecliWarning,
            stacklevel=4,
        )


def _check_separator(frame: pd.DataFrame) -> None:
    if len(frame.columns) == 1 and any(s in str(frame.columns[0]) for s in ";|\t"):
        raise DataError(
            f"the file has one column named {str(frame.columns[0])[:40]!r}: it looks like it uses "
            f"another separator; say it with --sep {_guess_sep(frame)!r}"
        )


def _guess_sep(frame: pd.DataFrame) -> str:
    name = str(frame.columns[0])
    return max(";|\t", key=name.count)


def _check_names(frame: pd.DataFrame) -> None:
    names = [str(c) for c in frame.columns]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"duplicate column names: {', '.join(dupes)}; rename them")
