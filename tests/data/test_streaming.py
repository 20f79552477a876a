"""Streaming: every table command reads and writes in blocks. The block size is forced tiny
(AECLI_BLOCK_BYTES) so that each test crosses many block boundaries: row order, categories,
missing cells, errors naming the global row, compressed files in and out, a Parquet data set
folder with hive partitions, globs, and one output per input file."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aecli
from conftest import SAMPLE, invoke, mixed_table

N = 600


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return mixed_table(N, seed=3)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory: pytest.TempPathFactory, table: pd.DataFrame) -> Path:
    folder = tmp_path_factory.mktemp("stream")
    model = aecli.train(table, epochs=3, seed=0, id_col=["id"], latent_dim=2)
    return model.save(folder / "m.safetensors")


@pytest.fixture(autouse=True)
def tiny_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AECLI_BLOCK_BYTES", "512")  # about 10 rows a block


def _codes(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)


def test_encode_in_blocks_keeps_order_and_matches_one_block(tmp_path, runner, table, model_file):
    data = tmp_path / "d.csv"
    table.to_csv(data, index=False)
    out = tmp_path / "codes.csv"
    result = invoke(runner, "encode", model_file, data, "--keep", "id", "-o", out)
    assert result.exit_code == 0, result.stderr
    codes = pd.read_csv(out)
    assert codes["id"].tolist() == table["id"].tolist()
    whole = aecli.load(model_file).encode(table, keep=["id"])  # one in-memory block
    np.testing.assert_allclose(codes[["z1", "z2"]], whole[["z1", "z2"]], atol=1e-5)


@pytest.mark.parametrize("suffix", [".csv.gz", ".tsv.xz", ".csv.bz2", ".parquet"])
def test_compressed_and_parquet_in_and_out(tmp_path, runner, table, model_file, suffix):
    source = tmp_path / "d.csv.gz"
    with gzip.open(source, "wt") as handle:
        table.to_csv(handle, index=False)
    out = tmp_path / f"codes{suffix}"
    result = invoke(runner, "encode", model_file, source, "--keep", "id", "-o", out)
    assert result.exit_code == 0, result.stderr
    back = (
        pd.read_parquet(out)
        if suffix == ".parquet"
        else pd.read_csv(out, sep="\t" if ".tsv" in suffix else ",")
    )
    assert back["id"].tolist() == table["id"].tolist()
    assert len(back.columns) == 3


def test_stdin_to_stdout_streams(runner, table, model_file):
    text = table.to_csv(index=False)
    result = invoke(runner, "encode", model_file, "-", "--keep", "id", input=text)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "id,z1,z2" and len(lines) == N + 1
    assert lines[-1].startswith("r0599,")


def test_bad_value_names_its_row_and_leaves_no_file(tmp_path, runner, table, model_file):
    bad = table.astype({"a": object})
    bad.loc[456, "a"] = "oops"  # in a late block
    data = tmp_path / "d.csv"
    bad.to_csv(data, index=False)
    out = tmp_path / "codes.csv"
    result = invoke(runner, "encode", model_file, data, "-o", out)
    assert result.exit_code == 2
    assert "row 457" in result.stderr and "'oops'" in result.stderr, result.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [data]


def test_infinite_value_names_its_row(tmp_path, runner, table, model_file):
    bad = table.copy()
    bad.loc[401, "b"] = np.inf
    data = tmp_path / "d.parquet"
    bad.to_parquet(data)
    result = invoke(runner, "encode", model_file, data)
    assert result.exit_code == 2
    assert "row 402" in result.stderr, result.stderr


def test_unseen_category_warned_once_and_missing_cells_kept(tmp_path, runner, table, model_file):
    odd = table.copy()
    odd.loc[[100, 500], "c"] = "w"
    data = tmp_path / "d.csv"
    odd.to_csv(data, index=False)
    result = invoke(runner, "denoise", model_file, data, "-o", tmp_path / "fixed.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("unseen in training") == 1
    fixed = pd.read_csv(tmp_path / "fixed.csv")
    assert fixed["id"].tolist() == table["id"].tolist()
    assert fixed["b"].notna().all() and fixed["n"].dtype == np.int64
    kept = table["b"].notna()
    np.testing.assert_allclose(fixed.loc[kept, "b"], table.loc[kept, "b"])


def test_denoise_and_evaluate_do_not_depend_on_the_block_size(
    tmp_path, runner, table, model_file, monkeypatch
):
    data = tmp_path / "d.csv"
    table.to_csv(data, index=False)
    outputs = []
    for size in ("512", "100000000"):
        monkeypatch.setenv("AECLI_BLOCK_BYTES", size)
        out = tmp_path / f"fixed{size}.csv"
        assert invoke(runner, "denoise", model_file, data, "-o", out).exit_code == 0
        figures = invoke(runner, "evaluate", model_file, data, "--json")
        outputs.append((out.read_text(), json.loads(figures.stdout)))
    # Same rows, same order, same kept cells; a repaired cell may differ in its last float32 bit,
    # because the network's matrix products round differently for a 5-row and a 600-row batch.
    fixed_small, fixed_large = (pd.read_csv(io.StringIO(text)) for text, _ in outputs)
    pd.testing.assert_frame_equal(fixed_small, fixed_large, check_exact=False, rtol=1e-6)
    small, large = outputs[0][1], outputs[1][1]
    assert small["rows"] == large["rows"] == N
    assert small["reconstruction_mse"] == pytest.approx(large["reconstruction_mse"], rel=1e-5)


def test_decode_in_blocks(tmp_path, runner, table, model_file):
    codes = aecli.load(model_file).encode(table, keep=["id"])
    codes.to_csv(tmp_path / "codes.csv", index=False)
    out = tmp_path / "rows.parquet"
    result = invoke(runner, "decode", model_file, tmp_path / "codes.csv", "--keep", "id", "-o", out)
    assert result.exit_code == 0, result.stderr
    rows = pd.read_parquet(out)
    assert rows["id"].tolist() == table["id"].tolist()
    assert set(rows["c"]) <= {"x", "y", "z"} and rows["n"].dtype == np.int64


def test_parquet_dataset_folder_with_partitions(tmp_path, runner, table, model_file):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "ds"
    pq.write_to_dataset(
        pa.Table.from_pandas(table, preserve_index=False), folder, partition_cols=["c"]
    )
    (folder / "_SUCCESS").write_text("")
    out = tmp_path / "codes.parquet"
    result = invoke(runner, "encode", model_file, folder, "--keep", "id", "--keep", "c", "-o", out)
    assert result.exit_code == 0, result.stderr
    codes = pd.read_parquet(out)
    assert len(codes) == N
    expected = table.sort_values("c", kind="stable")  # partitions in folder order: c=x, y, z
    assert codes["id"].tolist() == expected["id"].tolist()
    assert codes["c"].tolist() == expected["c"].tolist()


def test_glob_is_one_input_and_out_dir_one_file_each(tmp_path, runner, table, model_file):
    parts = tmp_path / "parts"
    parts.mkdir()
    table.iloc[:250].to_csv(parts / "a.csv", index=False)
    table.iloc[250:].to_csv(parts / "b.csv.gz", index=False)
    pattern = str(parts / "*.csv*")
    out = tmp_path / "codes.csv"
    assert invoke(runner, "encode", model_file, pattern, "--keep", "id", "-o", out).exit_code == 0
    assert pd.read_csv(out)["id"].tolist() == table["id"].tolist()
    result = invoke(runner, "encode", model_file, parts, "--out-dir", tmp_path / "each")
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "each" / "a.csv")) == 250
    assert len(pd.read_csv(tmp_path / "each" / "b.csv.gz")) == N - 250
    model = tmp_path / "g.safetensors"
    trained = invoke(runner, "train", pattern, "-o", model, "--epochs", "1", "--quiet")
    assert trained.exit_code == 0, trained.stderr
    assert aecli.load(model).metrics["rows_train"] + aecli.load(model).metrics["rows_val"] == N


def test_a_lone_carriage_return_header_is_one_line_exit_2(tmp_path, runner):
    model = tmp_path / "m.safetensors"
    data = SAMPLE / "wine.csv"
    assert invoke(runner, "train", data, "-o", model, "--steps", "5", "-q").exit_code == 0
    result = invoke(runner, "encode", model, "-", input="\r0")
    assert result.exit_code == 2 and "no header row" in result.stderr


@pytest.mark.parametrize("how", [[], ["--method", "reconstruction", "--explain", "2"]])
def test_score_streams_and_matches_one_block(tmp_path, runner, table, model_file, how):
    """Scored in tiny blocks (written as they come, or spooled when the threshold must come
    from the rows' own scores) the table equals the one-block result, row for row."""
    data = tmp_path / "d.csv.gz"
    table.to_csv(data, index=False)
    out = tmp_path / "scores.parquet"
    result = invoke(runner, "score", model_file, data, "--keep", "id", "-o", out, "--json", *how)
    assert result.exit_code == 0, result.stderr
    streamed = pd.read_parquet(out)
    options = {"method": "reconstruction", "explain": 2} if how else {}
    whole = aecli.load(model_file).score_table(table, keep=["id"], **options)
    assert streamed["id"].tolist() == table["id"].tolist()
    assert list(streamed.columns) == list(whole.columns)
    np.testing.assert_allclose(streamed["score"], whole["score"], atol=1e-4)
    assert streamed["outlier"].tolist() == whole["outlier"].tolist()
    summary = json.loads(result.stdout)
    assert summary["outliers"] == int(whole["outlier"].sum()) > 0
    assert summary["threshold"] == pytest.approx(whole.attrs["threshold"], rel=1e-5)
    if how:
        assert streamed["explain1"].tolist() == whole["explain1"].tolist()


def test_reservoir_is_exact_while_small_and_bounded_beyond():
    from aecli.reservoir import Reservoir

    values = np.random.default_rng(0).normal(size=10_000)
    exact = Reservoir(size=20_000)
    for block in np.array_split(values, 37):
        exact.add(block)
    assert np.array_equal(np.sort(exact.values), np.sort(values))
    small = Reservoir(size=2_000, seed=1)
    for block in np.array_split(values, 37):
        small.add(block)
    assert len(small.values) == 2_000 and small.seen == 10_000
    assert set(small.values) <= set(values)
    assert abs(np.quantile(small.values, 0.9) - np.quantile(values, 0.9)) < 0.1


def test_progress_of_a_long_input_counts_bytes_and_rows_across_blocks(
    tmp_path, runner, table, model_file
):
    """A plain line per block at --log-every 0: bytes read of the whole file with its share and
    the rows so far, rising to the end; the blocks' own row counts are not shown."""
    import re

    data = tmp_path / "d.csv.gz"
    table.to_csv(data, index=False)
    out = tmp_path / "c.csv"
    result = invoke(runner, "encode", model_file, data, "-o", out, "--log-every", "0")
    assert result.exit_code == 0, result.stderr
    line = re.compile(r"^encode: ([\d.]+ k?B)/([\d.]+ kB), (\d+) rows \((\d+)%\), \d+ s elapsed")
    lines = [x for x in result.stderr.splitlines() if x.startswith("encode: ")]
    found = [line.match(x) for x in lines]
    assert len(lines) > 10 and all(found), lines[:3]
    rows = [int(m.group(3)) for m in found]
    shares = [int(m.group(4)) for m in found]
    assert rows == sorted(rows) and rows[-1] == N and rows[0] < N / 4
    assert shares == sorted(shares) and shares[-1] == 100 and len(set(shares)) > 3
    assert {m.group(2) for m in found} == {found[0].group(2)}  # one total: the file's size
