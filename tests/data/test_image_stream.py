"""Training on an image folder larger than memory (issue 12, item 4), forced with
AECLI_TRAIN_MEMORY=0: images decoded per batch by a DataLoader, the same weights with or
without worker processes, a seeded validation sample, and resume reproducing the run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import aecli
from aecli.errors import TrainingInterrupted

COUNT = 48


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for i in range(COUNT):
        level = rng.integers(0, 255)
        pixels = np.clip(level + rng.normal(0, 20, (12, 12)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"img{i:03d}.png")
    return root


@pytest.fixture(autouse=True)
def streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", "0")


def weights(model) -> list[torch.Tensor]:
    return [v.clone() for v in model.net.state_dict().values()]


def same(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(weights(a), weights(b), strict=True))


def test_workers_do_not_change_the_weights(folder):
    options = {"epochs": 2, "batch_size": 10, "latent_dim": 3, "seed": 0, "conv": [4]}
    alone = aecli.train(folder, workers=0, **options)
    helped = aecli.train(folder, workers=2, **options)
    assert same(alone, helped)
    assert alone.metrics["rows_train"] + alone.metrics["rows_val"] == COUNT
    assert alone.history["steps_run"] == 2 * 5  # 43 or so training images in batches of 10
    codes = alone.encode(folder)
    assert len(codes) == COUNT and codes["path"].str.endswith(".png").all()


def test_only_batches_are_decoded_and_every_image_once_an_epoch(folder):
    from aecli.data import fit_training
    from aecli.options import TrainOptions

    options = TrainOptions.from_dict({"batch_size": 8, "workers": 0}).resolved()
    stream = fit_training(folder, options, False).stream
    seen = [stream.batch(8, 0, step) for step in range(stream.per_epoch)]
    assert max(len(b) for b in seen) == 8
    rows = np.concatenate(seen)
    assert len(rows) == len(stream) and len({r.tobytes() for r in rows}) == len(stream)
    resumed = stream.batch(8, 0, stream.per_epoch + 2)  # a jump (resume) rebuilds the loader
    again = [stream.batch(8, 0, s) for s in range(stream.per_epoch, stream.per_epoch + 3)]
    np.testing.assert_array_equal(resumed, again[2])


def test_resume_reproduces_the_streamed_image_run(folder, tmp_path):
    options = {"epochs": 3, "batch_size": 10, "latent_dim": 3, "seed": 2, "conv": [4]}
    whole = aecli.train(folder, workers=0, **options)
    calls = {"n": 0}

    def stop() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    progress = tmp_path / "p.resume.safetensors"
    with pytest.raises(TrainingInterrupted):
        aecli.train(folder, workers=0, should_stop=stop, progress_path=progress, **options)
    assert same(whole, aecli.train(folder, resume=progress))
