"""Training on an image folder larger than memory (issue 12, item 4), forced with
AECLI_TRAIN_MEMORY=0: images decoded per batch by a DataLoader, the same weights with or
without worker processes, a seeded validation sample, and resume reproducing the run."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

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


def test_steps_after_training_hold_a_block_not_every_validation_image(folder, monkeypatch):
    """Evaluation, the residual scales and the PCA baseline go block by block: their memory is
    bounded by a block, not by the number of (validation) images, and the figures are those of
    the whole array at once."""
    import tracemalloc

    from aecli import training
    from aecli.data import adapter
    from aecli.pca import pca_reconstruction_error

    model = aecli.train(folder, steps=3, batch_size=8, latent_dim=3, conv=[4], workers=0)
    x = np.tile(np.asarray(model.adapter.read(folder).x[:COUNT], np.float32), (8, 1))
    x[3, 5] = np.nan  # a missing cell is left out
    axes, mean = model.extras["pca"]["axes"], model.extras["pca"]["mean"]
    whole_residual = np.nanmean((model.reconstruct_array(x) - x) ** 2)
    centred = x.astype(np.float64) - mean
    whole_pca = np.nanmean((centred - np.nan_to_num(centred) @ axes @ axes.T) ** 2)
    seen: list[int] = []

    class Coded:  # an objective: the mean squared code, recording the rows it is given
        needs_input_grad = False

        def __call__(self, net, rows, gen):
            seen.append(len(rows))
            return SimpleNamespace(loss=net.encode(rows).pow(2).mean(), kl=None)

    rows = torch.from_numpy(np.nan_to_num(x))
    whole = training.evaluate(model.net, Coded(), rows, 0)
    assert seen == [len(x)]  # 384 rows of 144 values: one chunk by default

    monkeypatch.setattr(adapter, "BLOCK_VALUES", 12 * x.shape[1])  # 12 rows a block
    monkeypatch.setattr(training, "EVAL_VALUES", 12 * x.shape[1])
    seen.clear()
    assert training.evaluate(model.net, Coded(), rows, 0) == pytest.approx(whole, rel=1e-5)
    assert max(seen) == 12 and sum(seen) == len(x)

    def peak(rows: np.ndarray) -> tuple[int, float, float]:
        tracemalloc.start()
        total, count = model.residual_sums(rows)
        error = pca_reconstruction_error(axes, mean, rows)
        top = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return top, float(total.sum() / count.sum()), error

    small, large = peak(x[: len(x) // 4]), peak(x)
    assert large[1] == pytest.approx(whole_residual, rel=1e-5)
    assert large[2] == pytest.approx(whole_pca, rel=1e-9)
    assert large[0] < 1.5 * small[0] and large[0] < x.nbytes  # bounded by a block
