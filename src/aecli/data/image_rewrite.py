"""The one format-keeping image writer: an image file in, a transformed image of the same size,
mode and format out (alpha, ICC profile, EXIF and dpi kept)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from aecli.data.image_files import open_image
from aecli.errors import DataError, UserError
from aecli.store.atomic import atomic_path, check_output

# Pillow modes handled: the colour bands denoised, and how values map to [0, 1].
_MODES: dict[str, tuple[int, float]] = {  # mode -> (colour bands, full scale)
    "L": (1, 255.0),
    "LA": (1, 255.0),
    "RGB": (3, 255.0),
    "RGBA": (3, 255.0),
    "I;16": (1, 65535.0),
}
_FORMAT_SUFFIXES = {
    "PNG": {".png"},
    "JPEG": {".jpg", ".jpeg", ".jpe", ".jfif"},
    "TIFF": {".tif", ".tiff"},
    "BMP": {".bmp"},
    "WEBP": {".webp"},
    "PPM": {".ppm", ".pgm", ".pbm", ".pnm"},
}


def _check_suffix(dst: Path, fmt: str) -> None:
    suffix = dst.suffix.lower()
    known = {s: name for name, suffixes in _FORMAT_SUFFIXES.items() for s in suffixes}
    if suffix in known and known[suffix] != fmt:
        raise UserError(
            f"{dst} names a {known[suffix]} file but the input is {fmt}, and the output keeps the "
            f"input's format; name the output {dst.stem}{sorted(_FORMAT_SUFFIXES[fmt])[0]}"
        )


def rewrite_image(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    transform: Callable[[np.ndarray], np.ndarray],
    *,
    force: bool = False,
    quality: int = 95,
) -> None:
    """Write `transform` of the image file `src` to `dst`, keeping its size, mode, format and
    metadata (ICC profile, EXIF, dpi), atomically: the one format-keeping image writer.

    Modes L, LA, RGB, RGBA and I;16 are handled (alpha kept as is); JPEG is saved at `quality`.
    `transform` maps an (H, W, C) float image in [0, 1] (C = 1 or 3) to one of the same shape.
    """
    source, target = Path(src), Path(dst)
    if not 1 <= quality <= 100:
        raise UserError(f"--quality must be between 1 and 100, got {quality}")
    check_output(target, force, [source])  # before any work: no clobbering, not the input
    image = open_image(source)
    fmt = image.format or "PNG"
    if fmt == "MPO":  # multi-picture JPEG, as written by some cameras: keep the first frame
        fmt = "JPEG"
    if fmt not in _FORMAT_SUFFIXES:
        raise DataError(f"{source} is a {fmt} image; convert it to PNG or JPEG first")
    if image.mode not in _MODES:
        raise DataError(
            f"{source} has image mode {image.mode}, which the denoiser does not handle; convert "
            "it to RGB or grayscale (L) first"
        )
    if fmt == "JPEG" and image.mode not in ("L", "RGB"):
        raise DataError(f"{source}: a JPEG image in mode {image.mode} is not handled")
    _check_suffix(target, fmt)
    bands, full_scale = _MODES[image.mode]
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    colour = pixels[..., :bands].astype(np.float32) / np.float32(full_scale)
    clean = np.clip(transform(colour), 0.0, 1.0).reshape(colour.shape)
    dtype = np.uint16 if image.mode == "I;16" else np.uint8
    result = np.rint(clean * np.float32(full_scale)).astype(dtype)
    if pixels.shape[2] > bands:  # alpha, untouched
        result = np.concatenate([result, pixels[..., bands:].astype(dtype)], axis=-1)
    if result.shape[2] == 1:
        result = result[..., 0]
    if image.mode == "I;16":
        out = Image.frombytes("I;16", image.size, result.astype("<u2").tobytes())
    else:
        out = Image.fromarray(result)  # uint8 with 1-4 bands: L, LA, RGB or RGBA
    options: dict[str, Any] = {}
    for key in ("icc_profile", "exif", "dpi"):
        if key in image.info:
            options[key] = image.info[key]
    if fmt == "JPEG":
        options.update(quality=quality)
    with atomic_path(target, force) as tmp:
        try:
            out.save(tmp, format=fmt, **options)
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot write {target} as {fmt}: {exc}") from None
