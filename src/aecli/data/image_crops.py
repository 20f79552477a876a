"""Training crops of images at their own size, for training on patches (`--patch P`).

`CropStream` draws a fresh batch of random P x P crops at every optimiser step (the denoiser
kind), so a run of many steps sees many more crops than any fixed set would hold. The decoded
images are kept in a pool of at most `POOL_VALUES` values; when the images hold more, the pool
is refilled with another random subset of them every `REFRESH_STEPS` steps, so memory does not
grow with the number of images. Which images are in the pool follows from the seed and the step,
and where each crop lies from a seed the training loop draws from its own generator: the same
seed gives the same crops, and a resumed run draws the ones the uninterrupted run would have.

`fixed_crops` draws a fixed set (the validation crops; every crop a bottleneck kind trains on),
each from an image chosen with probability proportional to its number of crop positions, so the
set's size, not the number of images, bounds its memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from aecli.data.image_files import header, open_image, pixels

POOL_VALUES = 1 << 25  # decoded pixel values held at once (128 MiB of float32)
REFRESH_STEPS = 200  # steps between refills of the pool, when the images do not fit in it


def _positions(size: tuple[int, int], patch: int) -> int:
    """How many P x P crops an image of (width, height) `size` has (1 if it is smaller)."""
    width, height = size
    return max(1, height - patch + 1) * max(1, width - patch + 1)


def _plane(src: Path, channels: int, patch: int) -> np.ndarray:
    """(H, W, C) float32 pixels, reflect-padded to at least P a side."""
    image = pixels(open_image(src), channels)
    pad_h, pad_w = max(0, patch - image.shape[0]), max(0, patch - image.shape[1])
    if pad_h or pad_w:
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
    return image


def _cut(image: np.ndarray, count: int, patch: int, rng: np.random.Generator) -> np.ndarray:
    """`count` random crops of (H, W, C) `image` as rows of C x P x P values."""
    tops = rng.integers(0, image.shape[0] - patch + 1, count)
    lefts = rng.integers(0, image.shape[1] - patch + 1, count)
    out = np.empty((count, image.shape[2] * patch * patch), np.float32)
    for j, (y, x) in enumerate(zip(tops, lefts, strict=True)):
        out[j] = image[y : y + patch, x : x + patch].transpose(2, 0, 1).reshape(-1)
    return out


def _draw(
    get: Callable[[int], np.ndarray],
    weights: np.ndarray,
    count: int,
    patch: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """`count` crops, each from an image drawn with probability `weights`; each chosen image
    is fetched (`get(index)`: decoded, or from the pool) once."""
    chosen = rng.choice(len(weights), count, p=weights / weights.sum())
    indices, counts = np.unique(chosen, return_counts=True)
    rows = np.concatenate(
        [_cut(get(int(i)), int(n), patch, rng) for i, n in zip(indices, counts, strict=True)]
    )
    return rows[rng.permutation(count)]  # images in random order within the batch


def fixed_crops(
    files: Sequence[Path], channels: int, patch: int, count: int, seed: int
) -> np.ndarray:
    """`count` random P x P crops of the images at their own size (images smaller than a crop
    are reflect-padded), as rows of C x P x P values in [0, 1]."""
    if count <= 0:
        return np.empty((0, channels * patch * patch), np.float32)
    weights = np.array([_positions(header(f)[0], patch) for f in files], np.float64)
    rng = np.random.default_rng(seed)
    return _draw(lambda i: _plane(files[i], channels, patch), weights, count, patch, rng)


class CropStream:
    """Fresh random crops for every batch, from a bounded pool of decoded images; `len` is the
    number of crops one epoch draws (an epoch is how often the loop validates)."""

    def __init__(
        self, files: Sequence[Path], channels: int, patch: int, rows: int, seed: int
    ) -> None:
        self.files, self.channels, self.patch = list(files), channels, patch
        self.rows, self.seed = rows, seed
        sizes = [header(f)[0] for f in self.files]
        self.values = np.array(
            [max(w, patch) * max(h, patch) * channels for w, h in sizes], np.int64
        )
        self.weights = np.array([_positions(s, patch) for s in sizes], np.float64)
        self.fits = int(self.values.sum()) <= POOL_VALUES
        self.sample_rows = 0  # fixed training crops the fit keeps beside the stream (see images)
        self.pool: dict[int, np.ndarray] = {}
        self.generation = -1
        digest = hashlib.sha256(f"{channels} {patch}".encode())
        for f, (w, h) in zip(self.files, sizes, strict=True):
            digest.update(f"{f.name} {w} {h} {f.stat().st_size}\n".encode())
        self.fingerprint = digest.hexdigest()

    def __len__(self) -> int:
        return self.rows

    def members(self, generation: int) -> list[int]:
        """The images in the pool in `generation`: all, or a seeded random subset that fills
        `POOL_VALUES` (at least one image)."""
        if self.fits:
            return list(range(len(self.files)))
        order = np.random.default_rng([self.seed, generation]).permutation(len(self.files))
        within = np.cumsum(self.values[order]) <= POOL_VALUES
        return sorted(int(i) for i in order[: max(1, int(within.sum()))])

    def _refill(self, step: int) -> list[int]:
        generation = 0 if self.fits else step // REFRESH_STEPS
        members = self.members(generation)
        if generation != self.generation:
            kept = {i: self.pool[i] for i in members if i in self.pool}
            self.pool = {}  # let go of the old images before decoding new ones
            for i in members:
                self.pool[i] = kept[i] if i in kept else self._decode(i)
            self.generation = generation
        return members

    def _decode(self, index: int) -> np.ndarray:
        return _plane(self.files[index], self.channels, self.patch)

    def batch(self, count: int, seed: int, step: int) -> np.ndarray:
        """`count` crops for optimiser step `step`, placed by `seed` (drawn by the loop)."""
        members = self._refill(step)
        rng = np.random.default_rng(seed)
        pool = self.pool
        return _draw(lambda i: pool[members[i]], self.weights[members], count, self.patch, rng)
