"""The tiler for any image model: a model applied to images of any size, tile by tile.

A dense model of one input size sees overlapping tiles of that size, blended with raised-cosine
weights (`denoise_tiled`); a fully convolutional model sees tiles with enough context around them
to cover its receptive field, so tiling is exact (`apply_with_margin`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np
import torch


def window(length: int) -> np.ndarray:
    """Blending weights along one side of a tile: a raised cosine, never zero."""
    ramp = np.sin(np.pi * (np.arange(length) + 0.5) / length) ** 2
    return np.maximum(ramp, 1e-3).astype(np.float32)


def tile_starts(length: int, tile: int) -> list[int]:
    """Tile origins covering [0, length) with tiles of `tile`, overlapping by about half."""
    if length <= tile:
        return [0]
    count = math.ceil((length - tile) / (tile / 2)) + 1
    return sorted({round(i * (length - tile) / (count - 1)) for i in range(count)})


def denoise_tiled(
    image: np.ndarray, size: tuple[int, int], denoise_rows: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Apply a model of one input size to an (H, W, C) image of any size: overlapping tiles
    blended with raised-cosine weights (images smaller than a tile are reflect-padded).
    `denoise_rows` maps (N, H_t, W_t, C) tiles to the same shape."""
    tile_h, tile_w = size
    height, width, channels = image.shape
    pad_h, pad_w = max(0, tile_h - height), max(0, tile_w - width)
    if pad_h or pad_w:
        mode = "reflect" if min(height, width) > 1 and pad_h < height and pad_w < width else "edge"
        image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode=mode)
    full_h, full_w = image.shape[:2]
    weight = np.outer(window(tile_h), window(tile_w))[..., None]
    total = np.zeros((full_h, full_w, channels), np.float32)
    norm = np.zeros((full_h, full_w, 1), np.float32)
    origins = [(y, x) for y in tile_starts(full_h, tile_h) for x in tile_starts(full_w, tile_w)]
    for start in range(0, len(origins), 256):  # bounded memory: 256 tiles at a time
        batch = origins[start : start + 256]
        tiles = np.stack([image[y : y + tile_h, x : x + tile_w] for y, x in batch])
        for (y, x), out in zip(batch, denoise_rows(tiles), strict=True):
            total[y : y + tile_h, x : x + tile_w] += out * weight
            norm[y : y + tile_h, x : x + tile_w] += weight
    return (total / norm)[:height, :width]


def _tiles(length: int, core: int) -> Iterator[tuple[int, int]]:
    for start in range(0, length, core):
        yield start, min(start + core, length)


def apply_with_margin(
    plane: np.ndarray,
    model: Callable[[torch.Tensor], torch.Tensor],
    scale: int,
    margin: int,
    tile: int | None,
) -> np.ndarray:
    """A fully convolutional `model` over one (H, W) plane, or a (C, H, W) image, of any size:
    tiles of `tile` pixels (rounded to a multiple of `scale`), each with `margin` pixels of
    context on every side, so that the tiled result equals the whole-image one while memory
    stays bounded. `model` maps (1, C, h, w) tensors to the same shape."""
    image = plane if plane.ndim == 3 else plane[None]
    height, width = image.shape[1:]
    pad_h, pad_w = (-height) % scale, (-width) % scale
    if pad_h or pad_w:
        mode = "reflect" if min(height, width) > 1 else "edge"
        image = np.pad(image, ((0, 0), (0, pad_h), (0, pad_w)), mode=mode)
    padded_h, padded_w = image.shape[1:]
    core = padded_h if not tile else max(scale, tile - tile % scale)
    core_w = padded_w if not tile else core
    out = np.empty(image.shape, dtype=np.float32)
    source = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))
    with torch.inference_mode():
        for top, bottom in _tiles(padded_h, core):
            for left, right in _tiles(padded_w, core_w):
                y0, y1 = max(0, top - margin), min(padded_h, bottom + margin)
                x0, x1 = max(0, left - margin), min(padded_w, right + margin)
                patch = source[None, :, y0:y1, x0:x1].contiguous(memory_format=torch.channels_last)
                result = model(patch)[0]
                out[:, top:bottom, left:right] = result[
                    :, top - y0 : bottom - y0, left - x0 : right - x0
                ].numpy()
    out = out[:, :height, :width]
    return out if plane.ndim == 3 else out[0]
