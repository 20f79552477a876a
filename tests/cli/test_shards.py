"""`--shard I/N` for job arrays: the N outputs of encode / score / denoise, concatenated in shard
order, equal the output of the whole input, for a table (split by rows), a folder of tables and
an image folder (split by files)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import SAMPLE, invoke, train_model


def shards(runner, tmp_path, command, model, data, *extra, n=3):
    parts = []
    for i in range(n):
        out = tmp_path / f"{command}-{i}.csv"
        result = invoke(runner, command, model, data, "--shard", f"{i}/{n}", "-o", out, *extra)
        assert result.exit_code == 0, result.stderr
        parts.append(pd.read_csv(out))
    whole = tmp_path / f"{command}-all.csv"
    assert invoke(runner, command, model, data, "-o", whole, *extra).exit_code == 0
    return parts, pd.read_csv(whole)


@pytest.mark.parametrize("command", ["encode", "score"])
def test_table_shards_concatenate_to_the_whole_output(runner, tmp_path, shared_model, command):
    parts, whole = shards(runner, tmp_path, command, shared_model, SAMPLE / "wine.csv", "-q")
    assert [len(p) for p in parts] == [59, 59, 60]  # contiguous, sizes differ by at most one
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_denoise_shards_of_a_table(runner, tmp_path):
    model = train_model(runner, SAMPLE / "penguins.csv", tmp_path / "p.safetensors",
                        "--steps", "30", "--hidden", "16")  # fmt: skip
    parts, whole = shards(runner, tmp_path, "denoise", model, SAMPLE / "penguins.csv", "-q", n=2)
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_a_folder_of_tables_is_split_by_files(runner, tmp_path, shared_model):
    wine = pd.read_csv(SAMPLE / "wine.csv")
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, len(wine), 40)):
        wine.iloc[start : start + 40].to_csv(folder / f"part-{i}.csv", index=False)
    parts, whole = shards(runner, tmp_path, "encode", shared_model, folder, "-q", n=2)
    assert [len(p) for p in parts] == [80, 98]  # files 0-1 and 2-4 of the five
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_an_image_folder_is_split_by_files(runner, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(7):
        pixels = rng.integers(0, 256, size=(8, 8), dtype=np.uint8)
        Image.fromarray(pixels, "L").save(folder / f"im{i}.png")
    model = train_model(runner, folder, tmp_path / "im.safetensors", "-k", "2", "--conv", "4",
                        "--hidden", "8", "--steps", "2")  # fmt: skip
    parts, whole = shards(runner, tmp_path, "encode", model, folder, "-q")
    assert [len(p) for p in parts] == [2, 2, 3]
    pd.testing.assert_frame_equal(pd.concat(parts, ignore_index=True), whole)


def test_a_bad_shard_or_stdin_is_one_line(runner, shared_model):
    for shard in ("3/3", "1", "-1/2"):
        result = invoke(runner, "encode", shared_model, SAMPLE / "wine.csv", "--shard", shard)
        assert result.exit_code == 2 and "--shard" in result.stderr, result.stderr
    result = invoke(runner, "encode", shared_model, "-", "--shard", "0/2", input="a\n1\n")
    assert result.exit_code == 2 and "cannot split stdin" in result.stderr
