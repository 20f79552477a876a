"""Training crops: drawn fresh for every batch from images of any size, held in a pool whose
memory does not grow with the number of images, and placed by the seed and step alone (so a
resumed run draws the crops the uninterrupted one would have)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecli.data import image_crops
from aecli.data.image_crops import CropStream, fixed_crops

PATCH = 8


@pytest.fixture
def banded(tmp_path: Path) -> list[Path]:
    """12 grayscale images of different sizes (one smaller than a crop); image i's pixels all
    lie in [20 i, 20 i + 20), so a crop's mean names the image it came from."""
    rng = np.random.default_rng(0)
    files = []
    for i in range(12):
        height, width = (5, 6) if i == 3 else (20 + 3 * i, 30 - i)
        values = 20 * i + rng.integers(0, 20, (height, width))
        files.append(tmp_path / f"b{i:02d}.png")
        Image.fromarray(values.astype(np.uint8)).save(files[-1])
    return files


def _sources(crops: np.ndarray) -> set[int]:
    return {int(m) for m in crops.mean(axis=1) * 255 // 20}


def test_the_pool_stays_within_its_budget_and_visits_every_image(banded, monkeypatch):
    budget = 3 * 32 * 30  # about three of the images at once
    monkeypatch.setattr(image_crops, "POOL_VALUES", budget)
    monkeypatch.setattr(image_crops, "REFRESH_STEPS", 2)
    stream = CropStream(banded, channels=1, patch=PATCH, rows=100, seed=0)
    assert not stream.fits
    seen: set[int] = set()
    for step in range(60):
        batch = stream.batch(16, seed=step, step=step)
        assert batch.shape == (16, PATCH * PATCH) and batch.dtype == np.float32
        assert sum(p.size for p in stream.pool.values()) <= budget
        assert _sources(batch) <= set(stream.pool)  # crops come from the pool's images only
        seen |= _sources(batch)
    assert seen == set(range(12))


def test_every_batch_is_fresh_and_follows_from_the_seed_and_step_alone(banded, monkeypatch):
    monkeypatch.setattr(image_crops, "POOL_VALUES", 3 * 32 * 30)
    monkeypatch.setattr(image_crops, "REFRESH_STEPS", 2)
    first = CropStream(banded, 1, PATCH, 100, seed=0)
    batches = [first.batch(16, seed=s, step=s) for s in range(6)]
    assert not any(np.array_equal(a, b) for a, b in itertools.pairwise(batches))
    again = CropStream(banded, 1, PATCH, 100, seed=0)  # as after a resume: step 5 first
    np.testing.assert_array_equal(again.batch(16, seed=5, step=5), batches[5])
    np.testing.assert_array_equal(again.batch(16, seed=0, step=0), batches[0])


def test_a_small_set_of_images_is_decoded_once(banded, monkeypatch):
    stream = CropStream(banded, 1, PATCH, 100, seed=0)
    assert stream.fits
    stream.batch(4, seed=0, step=0)
    pool = dict(stream.pool)
    stream.batch(4, seed=1, step=10_000)
    assert all(stream.pool[i] is pool[i] for i in pool)  # the same arrays: nothing re-read


def test_fixed_crops_are_as_many_as_asked_whatever_the_number_of_images(banded):
    crops = fixed_crops(banded, channels=3, patch=PATCH, count=5, seed=0)
    assert crops.shape == (5, 3 * PATCH * PATCH)
    padded = fixed_crops(banded[3:4], channels=1, patch=PATCH, count=2, seed=0)  # 5 x 6 image
    assert padded.shape == (2, PATCH * PATCH) and 60 / 255 <= padded.min() < 80 / 255
    np.testing.assert_array_equal(fixed_crops(banded, 3, PATCH, 5, 0), crops)


@pytest.mark.parametrize("codes", [True, False])
def test_patch_training_draws_fresh_crops_beside_a_fixed_sample_for_a_kind_with_codes(
    banded, codes
):
    from aecli.data import fit_training
    from aecli.options import TrainOptions

    options = TrainOptions.from_dict({"patch": PATCH, "steps": 2, "batch_size": 10}).resolved()
    fitted = fit_training(str(banded[0].parent), options, False, stream=not codes)
    stream = fitted.stream
    assert isinstance(stream, CropStream) and len(stream) == 20  # crops an epoch draws
    assert stream.sample_rows == (20 if codes else 0)  # the PCA start's crops, kept in x
    assert len(fitted.x) == stream.sample_rows + 16  # then the validation crops
    drawn = np.concatenate([stream.batch(20, seed=s, step=s) for s in range(5)])
    assert len(np.unique(drawn, axis=0)) > 20  # more crops than any fixed set of 20 holds
