"""Training on a table larger than memory (issue 12, item 3), forced on small files with
AECLI_TRAIN_MEMORY=0 and tiny blocks: the schema fitted on a sample of the stream, batches
block-shuffled from a float32 cache (every row once an epoch), the same seed giving the same
weights, resume reproducing the uninterrupted run, the validation sample capped, and the
temporary cache removed afterwards."""

from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd
import pytest
import torch

import aecli
from aecli.errors import TrainingInterrupted
from conftest import mixed_table

N = 600


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    frame = mixed_table(N, seed=5, flags=True)
    path = tmp_path_factory.mktemp("train_stream") / "t.csv.gz"
    frame.to_csv(path, index=False)
    return str(path)


@pytest.fixture(autouse=True)
def streamed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", "0")
    monkeypatch.setenv("AECLI_BLOCK_BYTES", "2048")
    monkeypatch.setattr("aecli.data.table_training.CHUNK_ROWS", 64)
    monkeypatch.setattr("aecli.data.table_training.WINDOW_CHUNKS", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.net.state_dict().items()}


def test_streamed_training_fits_the_same_schema_and_is_deterministic(table_file, monkeypatch):
    model = aecli.train(table_file, epochs=3, seed=0, id_col=["id"])
    again = aecli.train(table_file, epochs=3, seed=0, id_col=["id"])
    assert all(
        torch.equal(a, b)
        for a, b in zip(weights(model).values(), weights(again).values(), strict=True)
    )
    assert model.metrics["rows_train"] + model.metrics["rows_val"] == N
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", str(1 << 30))
    memory = aecli.train(table_file, epochs=3, seed=0, id_col=["id"])
    shape = [(c.name, c.dtype, c.categories) for c in model.schema.columns]
    assert shape == [(c.name, c.dtype, c.categories) for c in memory.schema.columns]
    assert model.metrics["val_mse"] < 2 * memory.metrics["pca_val_mse"]
    codes = model.encode(table_file, keep=["id"])
    assert len(codes) == N and codes.notna().all().all()


def test_every_training_row_is_drawn_once_an_epoch(table_file):
    from aecli.data import fit_training
    from aecli.options import TrainOptions

    options = TrainOptions.from_dict({"epochs": 2, "batch_size": 50, "id_col": ["id"]}).resolved()
    fitted = fit_training(table_file, options, False)
    stream = fitted.stream
    cached = np.fromfile(stream.path, np.float32).reshape(-1, stream.width)
    assert len(stream) == len(cached) and len(stream) + len(fitted.x) - stream.sample_rows == N
    epochs = []
    for epoch in range(2):
        steps = range(epoch * stream.per_epoch, (epoch + 1) * stream.per_epoch)
        rows = [
            stream.batch(min(50, len(stream) - 50 * (s % stream.per_epoch)), 0, s) for s in steps
        ]
        got = np.concatenate(rows)
        key = np.lexsort(np.nan_to_num(got, nan=9).T)
        expected = np.lexsort(np.nan_to_num(cached, nan=9).T)
        np.testing.assert_array_equal(np.nan_to_num(got[key]), np.nan_to_num(cached[expected]))
        epochs.append(got)
    assert not np.array_equal(np.nan_to_num(epochs[0]), np.nan_to_num(epochs[1]))  # reshuffled


def test_resume_reproduces_the_uninterrupted_streamed_run(table_file, tmp_path):
    whole = aecli.train(table_file, epochs=4, seed=1, id_col=["id"])
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 15  # part-way through the second epoch

    progress = tmp_path / "p.resume.safetensors"
    with pytest.raises(TrainingInterrupted):
        aecli.train(
            table_file, epochs=4, seed=1, id_col=["id"], should_stop=stop, progress_path=progress
        )
    resumed = aecli.train(table_file, resume=progress)
    assert all(
        torch.equal(a, b)
        for a, b in zip(weights(whole).values(), weights(resumed).values(), strict=True)
    )


def test_validation_rows_are_a_capped_seeded_sample_and_the_cache_is_removed(
    table_file, monkeypatch, tmp_path
):
    monkeypatch.setattr("aecli.data.table_pass.MAX_VAL_ROWS", 30)
    monkeypatch.setattr("aecli.sample_choice.MAX_ROWS", 20)  # the sampling choice's rows, too
    model = aecli.train(table_file, epochs=1, seed=0, id_col=["id"])
    assert model.metrics["rows_val"] == 30  # the other held-out rows went back to training
    assert ", 20 validation rows)" in model.history["sampling"]["criterion"]
    assert model.metrics["rows_train"] + model.metrics["rows_val"] == N
    assert not list(tmp_path.glob("aecli-train-*"))


def test_streamed_statistics_and_pca_start_are_those_of_every_row(table_file, monkeypatch):
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 100)  # the kinds' rows
    options = {"epochs": 1, "seed": 0, "id_col": ["id"], "val_fraction": 0.0, "latent_dim": 2}
    streamed = aecli.train(table_file, **options)
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", str(1 << 30))
    memory = aecli.train(table_file, **options)
    for a, b in zip(streamed.schema.columns, memory.schema.columns, strict=True):
        assert (a.name, a.dtype, a.categories, a.whole) == (b.name, b.dtype, b.categories, b.whole)
        got = [a.mean, a.scale, a.min, a.max, a.at_min, a.at_max]
        np.testing.assert_allclose(got, [b.mean, b.scale, b.min, b.max, b.at_min, b.at_max])
    for key, value in memory.extras["pca"].items():
        np.testing.assert_allclose(streamed.extras["pca"][key], value, rtol=1e-6, atol=1e-6)


def test_a_rare_category_and_an_extreme_value_beyond_the_first_rows_are_kept(tmp_path, monkeypatch):
    frame = mixed_table(N, seed=6)
    frame.loc[N - 1, ["c", "n"]] = ["rare", 50]  # the last row: not among the kinds' rows
    path = str(tmp_path / "rare.csv")
    frame.to_csv(path, index=False)
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 50)
    model = aecli.train(path, epochs=1, seed=0, id_col=["id"], val_fraction=0.0)
    columns = {c.name: c for c in model.schema.columns}
    assert columns["c"].categories == ["rare", "x", "y", "z"]
    assert columns["n"].max == 50 and columns["n"].dtype == "int"
    assert model.encode(path).notna().all().all()


def test_the_default_code_size_counts_every_streamed_row_not_the_sample(tmp_path, monkeypatch):
    """Two factors drive eight columns; two more columns vary in three rows each. Every row
    needs four components for 95% of the variance; a 50-row sample misses the rare rows and
    would find two. Streamed, the code size comes from the moments of every training row,
    as the PCA start does, so it is the in-memory choice."""
    rng = np.random.default_rng(7)
    factors = rng.normal(size=(N, 2))
    x = np.repeat(factors, 4, axis=1) + 0.05 * rng.normal(size=(N, 8))
    spikes = 1e-3 * rng.normal(size=(N, 2))
    spikes[[100, 300, 500], 0] = 100 + rng.normal(size=3)
    spikes[[200, 400, 599], 1] = 100 + rng.normal(size=3)
    path = tmp_path / "spikes.csv"
    pd.DataFrame(np.hstack([x, spikes])).add_prefix("c").to_csv(path, index=False)
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 50)
    monkeypatch.setattr("aecli.data.table_pass.SAMPLE_ROWS", 50)
    options = {"steps": 2, "seed": 0, "val_fraction": 0.0, "hidden": (8,)}
    streamed = aecli.train(path, **options)
    assert streamed.latent_dim == 4
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", str(1 << 30))
    assert aecli.train(path, **options).latent_dim == 4


def test_the_input_is_read_once_after_a_look_at_its_first_rows(table_file, monkeypatch, tmp_path):
    """One pass over every row (typed by the first rows), after reading only the first rows
    (as text) for the column kinds: not a sample pass, a statistics pass and a cache pass."""
    import aecli.data.table_stream as table_stream
    from aecli.data import fit_training
    from aecli.options import TrainOptions

    real, reads = table_stream.table_blocks, []

    def counting(*args, **kwargs):
        read = {"types": args[2] if len(args) > 2 else kwargs.get("types"), "rows": 0}
        reads.append(read)
        for block in real(*args, **kwargs):
            read["rows"] += len(block.frame)
            yield block

    monkeypatch.setattr(table_stream, "table_blocks", counting)
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 100)
    options = TrainOptions.from_dict({"id_col": ["id"]}).resolved()
    fitted = fit_training(table_file, options, False)
    assert [r["types"] is None for r in reads] == [True, False]
    assert 100 <= reads[0]["rows"] < 200  # the first rows, a block past them at most
    assert reads[1]["rows"] == N
    assert len(fitted.stream) + len(fitted.x) - fitted.stream.sample_rows == N
    parquet = tmp_path / "t.parquet"  # read typed from the start: the pass goes on from them
    pd.read_csv(table_file).to_parquet(parquet, row_group_size=50)
    reads.clear()
    again = fit_training(str(parquet), options, False)
    assert [r["rows"] for r in reads] == [N]
    assert len(again.stream) + len(again.x) - again.stream.sample_rows == N


def test_the_cache_holds_what_the_schema_makes_of_each_row(table_file):
    """The raw values of the pass, scaled once the statistics are known, are byte for byte
    what `to_array` makes of the rows in memory."""
    from aecli.data import fit_training
    from aecli.options import TrainOptions

    options = TrainOptions.from_dict({"id_col": ["id"], "val_fraction": 0.0}).resolved()
    fitted = fit_training(table_file, options, False)
    stream = fitted.stream
    cached = np.fromfile(stream.path, np.float32).reshape(-1, stream.width)
    expected = fitted.adapter.to_array(pd.read_csv(table_file))
    np.testing.assert_array_equal(cached, expected)  # every row, in input order (NaN alike)
    assert stream.has_missing and stream.sample_rows == len(fitted.x) == N


def test_a_cell_beyond_the_first_rows_that_does_not_fit_their_type_is_refused_by_row(
    tmp_path, monkeypatch
):
    from aecli.errors import DataError

    frame = mixed_table(N, seed=8)
    frame["a"] = frame["a"].astype(object)
    frame.loc[400, "a"] = "oops"
    path = tmp_path / "oops.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 100)
    with pytest.raises(DataError, match="column 'a' should hold numbers but row 401") as error:
        aecli.train(str(path), epochs=1, id_col=["id"])
    assert "the first 100 rows set each column's kind" in str(error.value)
    assert "--categorical a" in str(error.value) and "--drop a" in str(error.value)
    assert not list(tmp_path.glob("aecli-train-*"))  # the cache is removed on failure too


def test_a_streamed_condition_knows_every_value_and_its_count(tmp_path, monkeypatch):
    frame = mixed_table(N, seed=9)
    frame.loc[N - 1, "c"] = "w"  # a condition value only the last row has
    path = tmp_path / "cond.csv"
    frame.to_csv(path, index=False)
    monkeypatch.setattr("aecli.data.table_training.HEAD_ROWS", 50)
    options = {"epochs": 1, "seed": 0, "id_col": ["id"], "condition": "c", "val_fraction": 0.0}
    streamed = aecli.train(str(path), **options)
    condition = streamed.schema.condition
    counts = frame["c"].value_counts()
    assert condition.values == ["w", "x", "y", "z"]
    assert condition.counts == [int(counts[v]) for v in condition.values]
    assert len(streamed.sample(5, condition="w", seed=0)) == 5


def test_fewer_than_ten_rows_all_train(tmp_path):
    path = tmp_path / "tiny.csv"
    mixed_table(80, seed=3).head(8).drop(columns=["id"]).to_csv(path, index=False)
    model = aecli.train(str(path), epochs=2, seed=0, val_fraction=0.5)
    assert (model.metrics["rows_train"], model.metrics["rows_val"]) == (8, 0)
