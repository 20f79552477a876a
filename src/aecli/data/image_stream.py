"""Training on an image folder larger than memory. Whole images are decoded on the fly by a
torch DataLoader (`--workers N` processes) in the order of a seeded permutation per epoch, so
memory holds a few batches whatever the number of images; the validation images (a seeded
sample, at most `MAX_VAL_IMAGES`) and a seeded sample of training images (for the PCA start,
the code density and the score figures) are decoded once and kept. A batch is a function of
the seed and the optimiser step, so the number of workers does not change the result and a
resumed run draws what the uninterrupted one would have.

Under torchrun (`part` = (rank, world)) each process keeps or draws only its share of the
training images, every world-th from its rank on, and its share of each global batch."""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from aecli.data.adapter import Fitted, Share, split_rows
from aecli.data.image_files import header, open_image, pixels
from aecli.errors import AecliWarning, DataError

MEMORY_ENV = "AECLI_TRAIN_MEMORY"  # decoded bytes beyond which training streams (tests: 0)
MEMORY_BYTES = 512 << 20
MAX_VAL_IMAGES = 1000
SAMPLE_IMAGES = 1000


def streams_images(count: int, n_features: int) -> bool:
    """True when `count` decoded images would take more than AECLI_TRAIN_MEMORY bytes."""
    value = os.environ.get(MEMORY_ENV, "")
    limit = int(value) if value.isdigit() else MEMORY_BYTES
    return count * n_features * 4 > limit


def default_workers() -> int:
    """Decoding processes: one per core beyond the first, at most 4 (none on one core)."""
    return max(0, min(4, (os.cpu_count() or 1) - 1))


class Decoded:
    """A map-style dataset: item i is image i decoded to one model-space row (resized to the
    training size where it differs)."""

    def __init__(self, adapter: Any, files: Sequence[Path]) -> None:
        self.adapter, self.files = adapter, list(files)

    def __len__(self) -> int:
        return self.total  # the images an epoch draws, over every process

    def __getitem__(self, i: int) -> np.ndarray:
        from PIL import Image

        a = self.adapter
        image = open_image(self.files[i])
        if image.size != (a.width, a.height):
            image = image.resize((a.width, a.height), Image.Resampling.BILINEAR)
        return pixels(image, a.channels).transpose(2, 0, 1).reshape(-1)


def share_of_images(
    adapter: Any, files: Sequence[Path], options: Any, part: tuple[int, int]
) -> Fitted:
    """One process's share of an image folder held in memory: its training images (every
    world-th of the split, from its rank on) and the validation images, decoded; the
    fingerprint of them all (names, sizes and times), the same in every process."""
    rank, world = part
    train, val = split_rows(len(files), options.val_fraction, options.seed)
    _check_share(len(train), world)
    own = train[rank::world]
    keep = np.sort(np.concatenate([own, val]))
    x = adapter.load([files[i] for i in keep])
    where = np.searchsorted(keep, own), np.searchsorted(keep, val)
    return Fitted(adapter, x, None, 1, share=Share(*where, len(train), _fingerprint(files)))


def split_of_images(adapter: Any, files: Sequence[Path], options: Any) -> Fitted:
    """An image folder held in memory: the training images decoded first, then the
    validation images (each in file order), so that either is a slice, not a copy; the
    fingerprint is of the pixels in file order, as of the folder decoded whole."""
    train, val = split_rows(len(files), options.val_fraction, options.seed)
    order = np.concatenate([train, val])
    x = adapter.load([files[i] for i in order])
    where = np.empty(len(files), np.int64)
    where[order] = np.arange(len(files))
    digest = hashlib.sha256()
    for i in where:
        digest.update(x[i])
    positions = np.arange(len(files))
    share = Share(positions[: len(train)], positions[len(train) :], len(train), digest.hexdigest())
    return Fitted(adapter, x, None, 1, share=share)


def _check_share(rows: int, world: int) -> None:
    if rows < world:
        raise DataError(f"{rows} training images cannot be shared by {world} processes")


class ImageStream:
    """Training images decoded per batch (`batch(count, seed, step)`, as the training loop
    asks); `x` holds the sampled training images then the validation images. With `part`,
    the batches are this process's share of the global batch, from its share of the images."""

    def __init__(
        self, adapter: Any, files: Sequence[Path], options: Any, part: tuple[int, int] = (0, 1)
    ) -> None:
        rank, world = part
        n = len(files)
        rng = np.random.default_rng([options.seed, 5])
        order = rng.permutation(n)
        n_val = min(MAX_VAL_IMAGES, round(n * options.val_fraction)) if n >= 10 else 0
        val = np.sort(order[:n_val])
        train = np.sort(order[n_val:])
        sample = np.sort(rng.choice(train, min(SAMPLE_IMAGES, len(train)), replace=False))
        _check_share(len(train), world)
        self.total = len(train)  # every process's training images
        self.files = [files[i] for i in train[rank::world]]
        self.seed, self.has_missing = options.seed, False
        self.workers = default_workers() if options.workers is None else options.workers
        batch = min(options.batch_size, self.total)  # the global batch; this process's share:
        self.batch_size = batch // world + (rank < batch % world)
        self.per_epoch = math.ceil(self.total / batch)
        # an epoch's draws: its images, round to the first where its share of batches needs more
        self.drawn = len(self.files) if world == 1 else self.per_epoch * self.batch_size
        _warn_resized(adapter, files)
        decoded = Decoded(adapter, files)
        self.x = np.stack([decoded[int(i)] for i in np.concatenate([sample, val])])
        self.sample_rows = len(sample)
        self.dataset = Decoded(adapter, self.files)
        self.fingerprint = _fingerprint(files)
        self._batches: Iterator[Any] | None = None
        self._next = -1

    def __len__(self) -> int:
        return self.total  # the images an epoch draws, over every process

    def batch(self, count: int, seed: int, step: int) -> np.ndarray:
        """The images of optimiser step `step`: the next batch of the epoch's permutation."""
        if step != self._next or self._batches is None:
            self._batches = self._loader(step)
        self._next = step + 1
        rows = np.asarray(next(self._batches))
        if (step + 1) % self.per_epoch == 0:
            self._batches = None  # the next epoch has its own order
        return rows[:count]

    def _loader(self, step: int) -> Iterator[Any]:
        """Batches of the epoch of `step`, from that step on, decoded by the workers."""
        import torch

        epoch, k = divmod(step, self.per_epoch)
        order = np.random.default_rng([self.seed, 6, epoch]).permutation(len(self.files))
        order = np.resize(order, max(self.drawn, len(order)))
        loader = torch.utils.data.DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=order[k * self.batch_size :].tolist(),
            num_workers=self.workers,
            collate_fn=np.stack,
        )
        return iter(loader)


def _warn_resized(adapter: Any, files: Sequence[Path]) -> None:
    size = (adapter.width, adapter.height)
    resized = sum(header(f)[0] != size for f in files)
    if resized:
        warnings.warn(
            f"{resized} of {len(files)} images are not {adapter.size_text} and will be resized "
            "to it (set the size with --image-size HxW at training)",
            AecliWarning,
            stacklevel=4,
        )


def _fingerprint(files: Sequence[Path]) -> str:
    """The images' names, sizes and modification times (reading every byte would take a pass
    over the whole folder)."""
    digest = hashlib.sha256()
    for f in files:
        stat = f.stat()
        digest.update(f"{f.as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
