"""The condition column of a conditional model, and how category labels travel as text and
come back in their column's type (shared by the table schema)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from aecli.errors import DataError

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
        dtype = _label_dtype(frame[name])
        position = list(frame.columns).index(name)
        return cls(name, list(labels.index), [int(c) for c in labels], dtype, position)

    def one_hot(self, frame: pd.DataFrame) -> np.ndarray:
        """The (rows, values) one-hot matrix of the frame's condition column."""
        return self.encode_labels(self.column_of(frame).map(_label).tolist())

    def column_of(self, frame: pd.DataFrame) -> pd.Series:
        """The frame's condition column, refused when absent or with a missing cell."""
        if self.name not in frame.columns:
            raise DataError(
                f"the data lacks the condition column {self.name!r} the model was trained with"
            )
        column = frame[self.name]
        if column.isna().any():
            raise DataError(f"the condition column {self.name!r} has missing values")
        return column

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
        return pd.Series(_typed(labels, self.dtype), name=self.name)

    def insert(self, frame: pd.DataFrame, labels: Sequence[str]) -> pd.DataFrame:
        out = frame.copy()
        out.insert(min(self.position, len(out.columns)), self.name, self.column(labels).to_numpy())
        return out


def _label(value: Any) -> str:
    """A condition value as text: 3, 3.0 and '3' are one label."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _typed(labels: Sequence[str], dtype: str) -> np.ndarray:
    """Labels back in the column's original type."""
    if dtype == "int":
        return np.array([int(float(v)) for v in labels], dtype=np.int64)
    if dtype == "float":
        return np.array([float(v) for v in labels], dtype=np.float64)
    if dtype == "bool":
        return np.array([v == "True" for v in labels], dtype=bool)
    return np.array(labels, dtype=object)


def _label_dtype(series: pd.Series) -> str:
    """The type a category's labels are written back as: int, float, bool or str."""
    numeric = pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)
    return _dtype(series) if numeric else "str"


def _dtype(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_integer_dtype(series):
        return "int"
    return "float"
