"""The tabular adapter: scaling statistics, dtypes and edge-case columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aecli.data.csv_dialect import Dialect
from aecli.data.table_files import read_table, write_table
from aecli.data.table_schema import TableSchema
from aecli.errors import DataError


def test_constant_column_does_not_divide_by_zero():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "flat": [5.0] * 4})
    schema = TableSchema.fit(frame)
    x = schema.to_array(frame)
    assert np.isfinite(x).all()
    assert np.allclose(x[:, 1], 0)
    assert np.allclose(schema.from_array(x)["flat"], 5.0)


def test_statistics_come_from_the_training_rows_only():
    frame = pd.DataFrame({"a": [0.0, 2.0, 100.0]})
    schema = TableSchema.fit(frame, rows=np.array([0, 1]))
    assert schema.columns[0].mean == 1.0 and schema.columns[0].scale == 1.0


def test_int_and_bool_columns_come_back_in_their_types():
    frame = pd.DataFrame(
        {"n": [1, 2, 3, 4], "flag": [True, False, True, True], "f": [0.5, 1, 2, 3]}
    )
    schema = TableSchema.fit(frame)
    back = schema.from_array(schema.to_array(frame) + 0.01)
    assert back["n"].dtype == np.int64 and back["n"].tolist() == [1, 2, 3, 4]
    assert back["flag"].dtype == bool and back["flag"].tolist() == [True, False, True, True]


def test_missing_cells_are_left_out_of_the_statistics():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0], "b": [1.0, 2.0, 3.0]})
    schema = TableSchema.fit(frame)
    assert schema.columns[0].mean == 2.0 and schema.columns[0].scale == 1.0
    assert np.isnan(schema.to_array(frame)[1, 0])


def test_a_column_without_values_is_named():
    frame = pd.DataFrame({"a": [np.nan, np.nan], "b": [1.0, 2.0]})
    with pytest.raises(DataError, match="'a' has no values"):
        TableSchema.fit(frame)


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_formats_round_trip(tmp_path, suffix):
    frame = pd.DataFrame({"x": [1.5, 2.5], "name, with comma": [3, 4]})
    path = tmp_path / f"t{suffix}"
    write_table(frame, path)
    back = read_table(path)
    assert list(back.columns) == list(frame.columns)
    assert np.allclose(back.to_numpy(dtype=float), frame.to_numpy(dtype=float))


def test_wrong_separator_gets_a_hint(tmp_path):
    path = tmp_path / "semi.csv"
    path.write_text("a;b\n1;2\n3;4\n")
    assert list(read_table(path).columns) == ["a", "b"]  # detected
    with pytest.raises(DataError, match="--sep ';'"):  # named wrongly: a hint
        TableSchema.fit(read_table(path, Dialect(sep=",")))


def test_a_text_column_of_numbers_is_a_column_of_labels():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "code": ["4", "8", "4", "6"]})
    schema = TableSchema.fit(frame)
    kinds = {c.name: c.likelihood for c in schema.columns}
    assert kinds == {"x": "gaussian", "code": "categorical"}
    assert schema.from_array(schema.to_array(frame))["code"].tolist() == ["4", "8", "4", "6"]


def test_fit_names_the_first_infinite_value_in_row_order():
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, -np.inf, 4.0], "b": [2.0, np.inf, 3.0, 5.0], "c": list("xyxy")}
    )
    with pytest.raises(DataError, match=r"column 'b' has an infinite value in row 2;"):
        TableSchema.fit(frame)
    frame.loc[1, "b"] = 2.5  # now only a's, in row 3
    with pytest.raises(DataError, match=r"column 'a' has an infinite value in row 3;"):
        TableSchema.fit(frame)
