"""Repairing data with a trained model: a table's missing cells filled by iterated
reconstruction, and images of any size cleaned tile by tile."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.data.shards import Shard
from aecli.ensemble import reconstruct
from aecli.errors import AecliWarning
from aecli.parts.noise_spec import is_masking

if TYPE_CHECKING:
    from aecli.codec import Codec

MAX_ROUNDS = 10  # of iterated reconstruction
PROBE_ROWS = 20_000  # rows that choose the number of rounds
PROBE_SHARE = 0.1  # of present cells hidden to choose the number of rounds


def repair_table(
    model: Codec, data: Any, *, all_cells: bool, iterations: int | None, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill a table's missing cells (with `all_cells`: replace every cell by its reconstruction).

    Missing cells start at the training mean and are refined by iterated reconstruction,
    x_missing <- E[x | f(x filled so far)]. Iterating helps some models and hurts others, so by
    default the count (1 to 10) is chosen on the data itself: 10% of the present cells of the
    first PROBE_ROWS rows are hidden (seeded, whole columns of a row at a time), and the count
    that restores them best is used. The rounds are in the mask's attrs["rounds"].
    """
    parts = list(repair_blocks(model, data, all_cells=all_cells, iterations=iterations, seed=seed))
    table = pd.concat([t for t, _ in parts], ignore_index=True)
    mask = pd.concat([m for _, m in parts], ignore_index=True)
    mask.attrs["rounds"] = parts[0][1].attrs["rounds"]  # what `denoise --json` reports
    return table, mask


def repair_blocks(
    model: Codec, data: Any, *, all_cells: bool, iterations: int | None, seed: int
) -> Iterator[tuple[pd.DataFrame, pd.DataFrame]]:
    """`repair_table` block by block as the input is read: (repaired rows, changed cells).
    The first PROBE_ROWS rows of the whole input choose the rounds, also for a `--shard`, so
    that the shards' outputs concatenate to the whole input's."""
    whole = data.source if isinstance(data, Shard) else data
    blocks = model.adapter.blocks(whole)
    first: list[Any] = []
    if iterations is None:  # the first PROBE_ROWS rows choose the rounds
        for rows in blocks:
            first.append(rows)
            if sum(len(r.x) for r in first) >= PROBE_ROWS:
                break
        x = np.concatenate([np.asarray(r.x) for r in first])[:PROBE_ROWS]
        y = None if first[0].y is None else np.concatenate([r.y for r in first])[:PROBE_ROWS]
        more = len(x) == PROBE_ROWS  # the input may go on: choose even if these are complete
        missing = np.isnan(x)
        iterations = choose_rounds(model, x, y, missing, seed) if missing.any() or more else 1
    if whole is not data:  # the probe was the whole input's; the rows are the shard's
        first, blocks = [], model.adapter.blocks(data)
    schema = model.adapter
    names = schema.names  # type: ignore[attr-defined]
    warned = False
    for rows in itertools.chain(first, blocks):
        frame, x, y = rows.frame, np.asarray(rows.x), rows.y
        assert frame is not None
        missing = np.isnan(x)  # missing cells, and categories unseen in training
        if missing.any() and not warned:
            warned = _warn_unmasked(model)
        filled = impute(model, x, y, missing, iterations)
        absent = frame[names].isna().to_numpy()  # only these are filled
        cells = np.ones_like(absent) if all_cells else absent
        values = reconstruct(model, filled, y) if all_cells else filled
        mask = pd.DataFrame(cells, columns=names)
        mask.attrs["rounds"] = iterations
        yield schema.write_back(frame, values, cells), mask  # type: ignore[attr-defined]


def _warn_unmasked(model: Codec) -> bool:
    if not (is_masking(model.options.noise) or model.architecture.mask_inputs):
        warnings.warn(
            "this model never saw missing cells in training; fills are better from a model "
            "trained with --kind denoising --noise mask:0.2",
            AecliWarning,
            stacklevel=4,
        )
    return True


def impute(
    model: Codec, x: np.ndarray, y: np.ndarray | None, missing: np.ndarray, rounds: int
) -> np.ndarray:
    """`x` with its `missing` cells filled by `rounds` of iterated reconstruction."""
    filled = np.where(missing, start_values(model, x.shape[1]), x).astype(np.float32)
    for _ in range(rounds if missing.any() else 0):
        filled = np.where(missing, reconstruct(model, filled, y), x).astype(np.float32)
    return filled


def start_values(model: Codec, width: int) -> np.ndarray:
    """Where a missing cell starts: at 0 under a model trained with masking, which is how it saw
    a hidden cell (a category: its one-hot block all 0); otherwise at the training mean."""
    if is_masking(model.options.noise):
        return np.zeros(width, np.float32)
    return model.extras.get("pca", {}).get("mean", np.zeros(width, np.float32))


def choose_rounds(
    model: Codec, x: np.ndarray, y: np.ndarray | None, missing: np.ndarray, seed: int
) -> int:
    """The number of rounds (1 to MAX_ROUNDS) that best restores a seeded probe of hidden
    present cells (whole columns of a row, as when a value is missing)."""
    widths = model.adapter.kinds_and_widths()[1]
    by_column = np.random.default_rng(seed).random((len(x), len(widths))) < PROBE_SHARE
    probe = np.repeat(by_column, widths, axis=1) & ~missing
    if not probe.any():
        return 1
    hidden = missing | probe
    filled = np.where(hidden, np.nan, x)
    errors = [
        float(np.mean((impute(model, filled, y, hidden, t)[probe] - x[probe]) ** 2))
        for t in range(1, MAX_ROUNDS + 1)
    ]
    return int(np.argmin(errors)) + 1


def denoise_image(model: Codec, image: np.ndarray) -> np.ndarray:
    """x_hat = g(f(x)) over an (H, W, C) float image in [0, 1] of any size: tiles of the
    training size, overlapping and blended. A grayscale model cleans each colour channel; a
    colour model sees a grayscale image as gray RGB and returns the mean of its channels."""
    from aecli.data.tiling import denoise_tiled

    if model.is_denoiser:
        return denoise_residual(model, image)
    c, height, width = model.adapter.image_shape or (0, 0, 0)
    if np.shape(image)[:2] != (height, width):
        warnings.warn(
            f"this {model.kind} model knows {height}x{width} images through a bottleneck and "
            f"cleans a {np.shape(image)[0]}x{np.shape(image)[1]} image tile by tile, which can "
            "leave it worse than the input; for images of any size train --kind denoiser",
            AecliWarning,
            stacklevel=3,
        )

    def rows(tiles: np.ndarray) -> np.ndarray:  # (N, H, W, C) -> (N, H, W, C)
        n, h, w, channels = tiles.shape
        if c == 1:  # each channel as its own grayscale image
            planes = tiles.transpose(0, 3, 1, 2).reshape(n * channels, h * w)
            out = model.reconstruct_array(planes).reshape(n, channels, h, w)
            return out.transpose(0, 2, 3, 1)
        rgb = tiles if channels == 3 else np.repeat(tiles, 3, axis=3)
        out = model.reconstruct_array(rgb.transpose(0, 3, 1, 2).reshape(n, -1))
        out = out.reshape(n, 3, h, w).transpose(0, 2, 3, 1)
        return out if channels == 3 else out.mean(axis=3, keepdims=True)

    image = np.asarray(image, np.float32)
    return np.clip(denoise_tiled(image, (height, width), rows), 0.0, 1.0)


def denoise_residual(model: Codec, image: np.ndarray, tile: int | None = 512) -> np.ndarray:
    """A residual denoiser over an (H, W, C) float image in [0, 1] of any size and channels: the
    network is fully convolutional, so tiles of `tile` pixels with its receptive field as margin
    give the whole-image result exactly, in bounded memory."""
    import torch

    from aecli.data.tiling import apply_with_margin
    from aecli.devices import autocast

    net = model.net.to(memory_format=torch.channels_last)  # oneDNN's fast CPU convolutions
    planes = np.asarray(image, np.float32).transpose(2, 0, 1)

    def clean(patch: torch.Tensor) -> torch.Tensor:
        with autocast(model.device, model.precision):
            return net.clean(patch.to(model.device)).float().cpu()

    clean_planes = apply_with_margin(planes, clean, net.scale, net.margin, tile)
    return np.clip(clean_planes.transpose(1, 2, 0), 0.0, 1.0)
