"""The data schema a model is trained on: which columns are numbers, categories, identifiers or
the condition, with the statistics that scale them. It turns a DataFrame into the model-space
array (standardised numbers, one-hot categories, NaN where a cell is missing) and back, and it
travels in the checkpoint, so later commands match columns by name and restore units and types.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.types import is_float_dtype

from aecli.data.column_checks import (
    _check_names,
    _check_separator,
    is_saved_index,
    refuse_text_dates_and_separators,
    warn_index,
    warn_oddities,
)
from aecli.data.ranges import into_range
from aecli.data.table_condition import (
    MAX_CONDITION_VALUES as MAX_CONDITION_VALUES,  # re-exported: the checkpoint checks it
)
from aecli.data.table_condition import (
    Condition,
    _dtype,
    _label,
    _label_dtype,
    _typed,
)
from aecli.data.table_values import as_float as _as_float
from aecli.data.table_values import check_numeric as _check_numeric
from aecli.data.table_values import decimals, infinite_value
from aecli.data.table_values import one_hot as _one_hot
from aecli.errors import AecliWarning, DataError


@dataclass
class Column:
    """One modelled column: its dtype and the statistics that standardise it."""

    name: str
    dtype: str  # "float", "int" or "bool"
    mean: float
    scale: float  # the standard deviation, or 1 for a constant column
    min: float
    max: float
    likelihood: str = "gaussian"  # "bernoulli" (values in [0, 1], unscaled) or "categorical"
    categories: list[str] | None = None  # a categorical column's labels, in one-hot order
    whole: bool = False  # a float column whose training values are all whole numbers
    at_min: float = 0.0  # share of the training values at `min` (a point mass there)
    at_max: float = 0.0  # and at `max`
    decimals: int | None = None  # a float column's decimals (see `decimals`); None: not kept

    @property
    def width(self) -> int:
        """Slots in model space: 1, or one per category (one-hot in, softmax out)."""
        return len(self.categories) if self.categories is not None else 1


@dataclass
class TableSchema:
    """The columns a model was trained on, in order, with their scaling statistics."""

    columns: list[Column]
    dropped: list[str] = field(default_factory=list)
    condition: Condition | None = None
    ids: list[str] = field(default_factory=list)  # identifier columns: not modelled, kept as is

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
        categorical: Sequence[str] = (),
        id_cols: Sequence[str] = (),
    ) -> TableSchema:
        """Learn the schema from `frame`; statistics come from `rows` (the training split).

        Numbers are numeric columns; text, booleans and the `categorical` columns are categories
        (one-hot); `id_cols`, and text columns with a distinct value in every row, are
        identifiers that are not modelled. A `condition` column is kept out of the features."""
        for flag, names in (
            ("--drop", drop),
            ("--categorical", categorical),
            ("--id-col", id_cols),
        ):
            unknown = [c for c in names if c not in frame.columns]
            if unknown:
                raise DataError(
                    f"{flag} names columns that are not in the data: {', '.join(map(str, unknown))}"
                )
        _check_names(frame)
        _check_separator(frame)
        cond = Condition.fit(frame, condition, rows) if condition is not None else None

        def train(name: Any) -> pd.Series:  # one column's training rows (no copy of the frame)
            return frame[name] if rows is None else frame[name].iloc[rows]

        ids = [str(c) for c in id_cols]
        skip = {*drop, condition, *ids}
        kinds = _classify(frame, train, [c for c in frame.columns if c not in skip], categorical)
        ids += [str(c) for c, kind in kinds.items() if kind == "id"]
        kept = [c for c, kind in kinds.items() if kind != "id"]
        if not kept:
            raise DataError("no columns left to model after --drop and --id-col")
        numeric = [c for c in kept if kinds[c] == "numeric"]
        _check_numeric(frame, numeric)
        stats: dict[Any, Column | None] = {}
        first_infinite: tuple[int, Any] | None = None  # (row, column): the first in row order
        for name in numeric:  # a column at a time: no float64 copy of the frame
            values = _as_float(frame[[name]], [name], check=False)[:, 0]
            infinite = np.flatnonzero(np.isinf(values))
            if len(infinite) and (first_infinite is None or infinite[0] < first_infinite[0]):
                first_infinite = (int(infinite[0]), name)
            if first_infinite is None:
                stats[name] = _numeric_column(frame[name], values if rows is None else values[rows])
        if first_infinite is not None:
            raise infinite_value(first_infinite[1], first_infinite[0])
        columns = []
        for name in kept:
            if kinds[name] == "categorical":
                columns.append(_categorical_column(train(name), str(name)))
                continue
            column = stats[name]
            if column is None:
                raise DataError(
                    f"column {name!r} has no values in the training rows; leave it out with "
                    f"--drop {name}"
                )
            columns.append(column)
        return cls(columns, [str(c) for c in drop], cond, ids)

    def choose_likelihoods(self, choice: str, variational: bool) -> list[str]:
        """Set each column's decoder likelihood from --likelihood and the data; Bernoulli
        columns are left unscaled so that their values stay probabilities."""
        in_unit = [c.categories is not None or (c.min >= 0 and c.max <= 1) for c in self.columns]
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
            if col.categories is None and (choice == "bernoulli" or (auto_bernoulli and ok)):
                col.likelihood, col.mean, col.scale = "bernoulli", 0.0, 1.0
        return [c.likelihood for c in self.columns]

    def kinds_and_widths(self) -> tuple[list[str], list[int]]:
        """Each column's likelihood and model-space width: what `Likelihood` is built from."""
        return [c.likelihood for c in self.columns], [c.width for c in self.columns]

    @property
    def width(self) -> int:
        """Columns of the model-space array: one per numeric column, one per category."""
        return sum(c.width for c in self.columns)

    @property
    def starts(self) -> list[int]:
        """Each column's first slot in the model-space array."""
        return list(np.cumsum([0] + [c.width for c in self.columns[:-1]]))

    def slot_scales(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-slot mean and scale (categories: 0 and 1, one-hot values are left as they are)."""
        mean = np.concatenate([[c.mean] * c.width for c in self.columns])
        scale = np.concatenate([[c.scale] * c.width for c in self.columns])
        return mean, scale

    def to_array(
        self, frame: pd.DataFrame, first_row: int = 0, warned: set[str] | None = None
    ) -> np.ndarray:
        """Standardised float32 values of the schema's columns, matched by name (NaN where a
        cell is missing). `first_row`: rows before this block (errors name the global row);
        `warned`: columns whose unseen categories were already reported."""
        self.check_columns(frame)
        numeric = [c for c in self.columns if c.categories is None]
        _check_numeric(frame, [c.name for c in numeric], first_row)
        out = np.empty((len(frame), self.width), np.float32)
        starts = self.starts
        slots = [s for s, c in zip(starts, self.columns, strict=True) if c.categories is None]
        if numeric:
            values = _as_float(frame, [c.name for c in numeric], first_row)
            mean = np.array([c.mean for c in numeric])
            scale = np.array([c.scale for c in numeric])
            out[:, slots] = (values - mean) / scale
        for start, col in zip(starts, self.columns, strict=True):
            if col.categories is not None:
                out[:, start : start + col.width] = _one_hot(frame[col.name], col, warned)
        return out

    def check_columns(self, frame: pd.DataFrame) -> None:
        """Refuse a frame that lacks some of the model's columns, naming them."""
        missing = [n for n in self.names if n not in frame.columns]
        if missing:
            shown = ", ".join(repr(m) for m in missing[:5]) + (" ..." if len(missing) > 5 else "")
            raise DataError(
                f"the data lacks {len(missing)} column(s) the model was trained on: {shown}; "
                "give a file with the training columns (any order)"
            )

    def write_back(
        self, frame: pd.DataFrame, values: np.ndarray, cells: np.ndarray
    ) -> pd.DataFrame:
        """`frame` with the model columns' `cells` (rows x columns, boolean) replaced by
        `values` (model space); every other cell, column and the column order stay as they
        were, and integer / boolean columns keep their type once no cell is missing."""
        out = frame.copy()
        decoded = self.from_array(values)
        for j, col in enumerate(self.columns):
            if not cells[:, j].any():
                column = out[col.name]
                if col.dtype == "int" and is_float_dtype(column) and column.notna().all():
                    out[col.name] = column.astype(np.int64)  # read as floats: ints again
                continue
            new = decoded[col.name].to_numpy()
            merged = out[col.name].astype(object).where(~cells[:, j], new)
            if not merged.isna().any():
                merged = merged.astype(decoded[col.name].dtype)
            out[col.name] = merged
        return out

    def from_array(
        self, values: np.ndarray, clip: bool = False, probabilities: bool = False
    ) -> pd.DataFrame:
        """Back to the data's columns and types: numbers unscaled (int rounded, bool thresholded;
        `clip`, for generated rows: kept in the training range by `into_range`, whole-number
        floats rounded, other floats to their training values' `decimals`), categories as their
        most likely label, or with `probabilities` as one column per category (`col=label`)."""
        out: dict[str, Any] = {}
        for start, col in zip(self.starts, self.columns, strict=True):
            if col.categories is not None:
                block = values[:, start : start + col.width]
                if probabilities:
                    for i, label in enumerate(col.categories):
                        out[f"{col.name}={label}"] = block[:, i].astype(np.float64)
                else:
                    labels = [col.categories[i] for i in block.argmax(axis=1)]
                    out[col.name] = _typed(labels, col.dtype)
                continue
            raw = values[:, start].astype(np.float64) * col.scale + col.mean
            if clip:
                raw = into_range(raw, col)
                raw = np.rint(raw) if col.whole else raw
                if col.decimals is not None:  # on the training values' decimal grid
                    raw = np.round(raw, col.decimals)
            if col.dtype == "int":
                out[col.name] = np.rint(raw).astype(np.int64)
            elif col.dtype == "bool":
                out[col.name] = raw >= 0.5
            elif clip and col.decimals is not None:  # 39.1 itself, not float32's 39.099998
                out[col.name] = raw
            else:  # the model computes in float32: no more digits than that
                out[col.name] = raw.astype(np.float32).astype(np.float64)
        return pd.DataFrame(out, index=range(len(values)))

    @property
    def n_condition(self) -> int:
        return len(self.condition.values) if self.condition is not None else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": [asdict(c) for c in self.columns],
            "dropped": self.dropped,
            "condition": asdict(self.condition) if self.condition is not None else None,
            "ids": self.ids,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TableSchema:
        cond = data.get("condition")
        return cls(
            [Column(**c) for c in data["columns"]],
            list(data.get("dropped", [])),
            Condition(**cond) if cond is not None else None,
            list(data.get("ids", [])),
        )


def _numeric_column(values: pd.Series, col: np.ndarray) -> Column | None:
    """A number column's statistics, from its training values `col` (float64, NaN where
    missing; the data's column `values` gives the name and type); None when none is present."""
    col = col[~np.isnan(col)]  # statistics of the present cells
    if not len(col):
        return None
    mean, std = float(col.mean()), float(col.std())
    dtype = _dtype(values)
    return Column(
        name=str(values.name),
        dtype=dtype,
        mean=mean,
        scale=scale_of(mean, std),
        min=float(col.min()),
        max=float(col.max()),
        whole=dtype == "float" and bool(np.all(col == np.round(col))),
        at_min=float(np.mean(col == col.min())),
        at_max=float(np.mean(col == col.max())),
        decimals=decimals(col) if dtype == "float" else None,
    )


def scale_of(mean: float, std: float) -> float:
    """A number column's scale: its standard deviation, or 1 for a constant column."""
    return std if std > 1e-12 * max(1.0, abs(mean)) else 1.0


MAX_CATEGORIES = 1000


def _classify(
    frame: pd.DataFrame,
    train: Callable[[Any], pd.Series],
    names: list[Any],
    categorical: Sequence[str],
) -> dict[Any, str]:
    """Each column's role: 'numeric', 'categorical' or 'id' (a saved index, or text with a
    distinct value in every row), with a warning for every guess and every oddity. `train`
    gives a column's training rows."""
    kinds = {}
    for name in names:
        if name not in set(categorical) and is_saved_index(frame[name], str(name)):
            warn_index(str(name))
            kinds[name] = "id"
            continue
        kind = _column_kind(frame[name], str(name), name in set(categorical))
        warn_oddities(train(name), str(name), kind == "categorical")
        if kind == "categorical" and _all_distinct(train(name)):
            warnings.warn(
                f"column {name!r} has a distinct value in every row: treated as an identifier "
                f"(not modelled, copied through); say --id-col {name} to silence this, or "
                f"--categorical {name} to model it",
                AecliWarning,
                stacklevel=4,
            )
            kind = "id"
        kinds[name] = kind
    return kinds


def _column_kind(series: pd.Series, name: str, categorical: bool) -> str:
    """'numeric' or 'categorical'; dates and numbers mistyped as text are refused (a text
    column whose every value is a number is a column of labels, such as codes)."""
    if categorical or pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_datetime64_any_dtype(series):
        raise DataError(
            f"column {name!r} holds dates, which aecli does not model; leave it out with "
            f"--drop {name}, or convert it to numbers (e.g. days since a date) first"
        )
    if pd.api.types.is_numeric_dtype(series):
        return "numeric"
    refuse_text_dates_and_separators(series, name)
    present = series.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    bad = present[numbers.isna()]
    if len(bad) and numbers.notna().mean() >= 0.9:  # text that is all numbers: labels
        row = int(bad.index[0]) + 1
        raise DataError(
            f"column {name!r} is numeric but row {row} holds {str(bad.iloc[0])[:30]!r}; fix or "
            f"empty those cells (empty cells count as missing), or leave it out with --drop {name}"
        )
    return "categorical"


def _all_distinct(series: pd.Series) -> bool:
    present = series.dropna()
    return len(present) > 20 and present.nunique() == len(present)


def _categorical_column(series: pd.Series, name: str) -> Column:
    labels = series.dropna().map(_label)
    categories = sorted(labels.unique().tolist())
    if not categories:
        raise DataError(f"column {name!r} has no values in the training rows; --drop {name}")
    if len(categories) > MAX_CATEGORIES:
        raise DataError(
            f"column {name!r} has {len(categories)} distinct values, too many for a category; "
            f"mark it as an identifier with --id-col {name} or leave it out with --drop {name}"
        )
    return Column(name, _label_dtype(series), 0.0, 1.0, 0.0, 1.0, "categorical", categories)
