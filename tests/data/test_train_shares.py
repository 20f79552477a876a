"""One process of a torchrun job keeps only its share of a table's training rows (issue 19):
`fit_training(..., part=(rank, world))`, in memory and streamed, checked here without a
process group: the same schema and fingerprint in every process, about 1/N of the training
rows each, together all of them, and every validation row in each."""

from __future__ import annotations

import hashlib
import tempfile

import numpy as np
import pytest

from aecli.data import fit_training
from aecli.data.adapter import split_rows
from aecli.options import TrainOptions
from conftest import mixed_table

N = 600


@pytest.fixture(scope="module")
def table_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("shares") / "t.csv"
    mixed_table(N, seed=5, flags=True).to_csv(path, index=False)
    return str(path)


def options(**extra: object) -> TrainOptions:
    return TrainOptions.from_dict({"id_col": ["id"], "batch_size": 50, **extra}).resolved()


def test_each_process_holds_its_share_of_the_rows_in_memory(table_file):
    whole = fit_training(table_file, options(), False)
    train, val = split_rows(N, options().val_fraction, options().seed)
    one = whole.share  # one process: every training row, then every validation row
    assert one is not None and one.train_total == len(train)
    np.testing.assert_array_equal(one.train, np.arange(len(train)))  # slices, not copies
    np.testing.assert_array_equal(one.val, len(train) + np.arange(len(val)))
    rows = np.empty_like(whole.x)
    rows[np.concatenate([train, val])] = whole.x  # back in input order
    assert whole.y is None
    fingerprint = hashlib.sha256(rows.tobytes()).hexdigest()  # of the rows in input order
    assert one.fingerprint == fingerprint
    parts = [fit_training(table_file, options(), False, part=(rank, 3)) for rank in range(3)]
    for rank, fitted in enumerate(parts):
        share = fitted.share
        assert share is not None and share.train_total == len(train)
        assert fitted.adapter.to_dict() == whole.adapter.to_dict()  # one schema
        assert share.fingerprint == fingerprint  # of every row, in every process
        assert len(fitted.x) == len(share.train) + len(val)  # nothing else is kept
        assert abs(len(share.train) - len(train) / 3) <= 1
        np.testing.assert_array_equal(fitted.x[share.train], rows[train[rank::3]])
        np.testing.assert_array_equal(fitted.x[share.val], rows[val])


@pytest.fixture
def streamed(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", "0")
    monkeypatch.setenv("AECLI_BLOCK_BYTES", "2048")
    monkeypatch.setattr("aecli.data.table_training.CHUNK_ROWS", 64)
    monkeypatch.setattr("aecli.data.table_training.WINDOW_CHUNKS", 3)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


def test_each_process_streams_only_its_share_of_the_rows(table_file, streamed):
    whole = fit_training(table_file, options(), False).stream
    cached = np.fromfile(whole.path, np.float32).reshape(-1, whole.width)
    drawn = []
    for rank in range(2):
        stream = fit_training(table_file, options(), False, part=(rank, 2)).stream
        mine = np.fromfile(stream.path, np.float32).reshape(-1, stream.width)
        assert stream.n == len(mine) and abs(len(mine) - len(cached) / 2) <= 1  # its half
        assert len(stream) == len(whole) and stream.fingerprint == whole.fingerprint
        np.testing.assert_array_equal(stream.x, whole.x)  # the sample and validation rows
        assert stream.per_epoch == whole.per_epoch and stream.batch_size == 25  # of 50
        steps = range(stream.per_epoch, 2 * stream.per_epoch)  # an epoch: its own rows
        got = np.concatenate([stream.batch(25, 0, s) for s in steps])
        assert len(got) == 25 * stream.per_epoch
        key = np.lexsort(np.nan_to_num(got[: len(mine)], nan=9).T)
        expected = np.lexsort(np.nan_to_num(mine, nan=9).T)
        np.testing.assert_array_equal(np.nan_to_num(got[key]), np.nan_to_num(mine[expected]))
        drawn.append(mine)
        stream.close()
    together = np.concatenate(drawn)
    key, expected = (np.lexsort(np.nan_to_num(a, nan=9).T) for a in (together, cached))
    np.testing.assert_array_equal(np.nan_to_num(together[key]), np.nan_to_num(cached[expected]))


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory: pytest.TempPathFactory) -> str:
    from PIL import Image

    root = tmp_path_factory.mktemp("share_images")
    rng = np.random.default_rng(0)
    for i in range(30):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(root / f"i{i:02d}.png")
    return str(root)


def test_each_process_holds_or_streams_its_share_of_the_images(image_folder, monkeypatch):
    opts = TrainOptions.from_dict({"batch_size": 8, "workers": 0}).resolved()
    whole = fit_training(image_folder, opts, False)
    train, val = split_rows(30, opts.val_fraction, opts.seed)
    rows = np.empty_like(whole.x)  # one process: training images, then validation images
    rows[np.concatenate([train, val])] = whole.x  # back in file order
    for rank in range(2):
        fitted = fit_training(image_folder, opts, False, part=(rank, 2))
        share = fitted.share
        assert (
            share is not None and share.train_total == len(train) and len(share.train) == 14 - rank
        )
        assert len(fitted.x) == len(share.train) + len(val)
        np.testing.assert_array_equal(fitted.x[share.train], rows[train[rank::2]])
        np.testing.assert_array_equal(fitted.x[share.val], rows[val])
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", "0")
    streams = [fit_training(image_folder, opts, False, part=(r, 2)).stream for r in range(2)]
    alone = fit_training(image_folder, opts, False).stream
    assert [len(s.files) for s in streams] == [14, 13] and len(streams[0]) == len(alone) == 27
    assert sorted(streams[0].files + streams[1].files) == sorted(alone.files)
    for stream in streams:  # an epoch: 4 steps of 4 images, its own, round to the first
        got = np.concatenate([stream.batch(4, 0, step) for step in range(4)])
        mine = np.stack([stream.dataset[i] for i in range(len(stream.files))])
        assert len(got) == 16 and {r.tobytes() for r in got} == {r.tobytes() for r in mine}
