"""In-memory table training holds the rows once (issue 12): training rows first, then the
validation rows, so the loop and the steps after training take slices, not copies; the steps
after training (code density, sampling defaults, score figures) fit on a seeded sample of at
most SAMPLE_ROWS training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aecli.api import Split, take
from aecli.data import fit_training
from aecli.data.adapter import split_rows
from aecli.options import TrainOptions


def test_training_rows_are_a_slice_and_the_validation_rows_follow(tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.choice(["x", "y"], 300)})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    opts = TrainOptions.from_dict({}).resolved()
    fitted = fit_training(str(path), opts, False)
    train, val = split_rows(300, opts.val_fraction, opts.seed)
    assert fitted.share is not None and fitted.share.train_total == len(train)
    a = fitted.x[:, 0] * fitted.adapter.columns[0].scale + fitted.adapter.columns[0].mean
    np.testing.assert_allclose(a, frame["a"].to_numpy()[np.concatenate([train, val])], rtol=1e-5)
    rows = take(fitted.x, fitted.share.train)
    assert np.shares_memory(rows, fitted.x) and len(rows) == len(train)
    scattered = np.array([0, 2, 3])
    assert not np.shares_memory(take(fitted.x, scattered), fitted.x)
    np.testing.assert_array_equal(take(fitted.x, scattered), fitted.x[scattered])


def test_steps_after_training_fit_on_a_seeded_sample(monkeypatch):
    monkeypatch.setattr("aecli.api.SAMPLE_ROWS", 50)
    x = np.zeros((200, 2), np.float32)
    split = Split(None, np.arange(150), np.arange(150, 200), x, "", seed=3)  # type: ignore[arg-type]
    rows = split.fit_rows
    assert len(rows) == 50 and np.all(np.diff(rows) > 0) and rows[-1] < 150
    np.testing.assert_array_equal(
        rows, Split(None, np.arange(150), np.arange(150, 200), x, "", seed=3).fit_rows
    )  # type: ignore[arg-type]
    assert not np.array_equal(
        rows, Split(None, np.arange(150), split.val_rows, x, "", seed=4).fit_rows
    )  # type: ignore[arg-type]
    small = Split(None, np.arange(40), np.arange(40, 50), x, "", seed=3)  # type: ignore[arg-type]
    np.testing.assert_array_equal(small.fit_rows, np.arange(40))  # few rows: all of them
