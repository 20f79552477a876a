"""The built-in photo denoiser: a small blind residual CNN shipped as `models/photo.safetensors`.

The network (DnCNN-style, run at half resolution on 2x2 pixel blocks as in FFDNet) predicts the
noise of a grayscale image with values in [0, 1] and subtracts it; it was trained on Gaussian noise
of standard deviation 0-55 (0-255 scale) and needs no noise level. Colour images are denoised in an
orthogonal opponent colour space (luma and two chroma channels: independent noise, each channel
with less noise than R, G or B), alpha channels are kept as they are. Large images are processed
in tiles whose overlap covers the receptive field, so tiling gives the whole-image result exactly
while memory stays bounded. `scripts/train_photo_denoiser.py` is the recipe that made the weights.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from safetensors import SafetensorError, safe_open
from torch import nn
from torch.nn import functional as F

from aecli.data.images import open_image
from aecli.errors import CheckpointError, DataError, UserError
from aecli.store.atomic import atomic_path, check_output
from aecli.store.header import parse_metadata

FORMAT = "aecli-photo-denoiser"
FORMAT_VERSION = 1
METADATA_KEY = "aecli_photo"
ARCHITECTURE = "resnet-unshuffle"
BUILTINS = ("photo",)
DEFAULT_TILE = 512
MAX_BLOCKS = 32
MAX_CHANNELS = 256
MAX_BYTES = 64 * 1024 * 1024

# Orthogonal rows: i.i.d. noise in R, G, B stays independent in the three channels, each with a
# smaller standard deviation (1/sqrt(3), 1/sqrt(2), sqrt(6)/4 of the RGB one); every channel of a
# [0, 1] image stays in [0, 1] after the offsets.
_OPPONENT = np.array(
    [[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0.0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], dtype=np.float64
)
_OPPONENT_OFFSET = np.array([0.0, 0.5, 0.5])
_OPPONENT_INVERSE = np.linalg.inv(_OPPONENT)

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


class _Block(nn.Module):
    """conv3x3, ReLU, conv3x3, plus the input (no batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class PhotoDenoiser(nn.Module):
    """Blind residual denoiser: 2x2 pixel-unshuffle, a conv, `blocks` residual blocks, a conv.

    The network predicts the noise, which is subtracted. Input and output are (N, 1, H, W)
    tensors with H and W multiples of `scale`; no batch norm, zero padding.
    """

    def __init__(self, blocks: int = 6, channels: int = 48, scale: int = 2) -> None:
        super().__init__()
        self.blocks, self.channels, self.scale = blocks, channels, scale
        cells = scale * scale
        self.head = nn.Conv2d(cells, channels, 3, padding=1)
        self.body = nn.Sequential(*[_Block(channels) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, cells, 3, padding=1)

    @property
    def convolutions(self) -> int:
        """How many 3x3 convolutions an input pixel passes through."""
        return 2 + 2 * self.blocks

    @property
    def margin(self) -> int:
        """Pixels of context each side that an output pixel depends on (a multiple of `scale`)."""
        return self.scale * (self.convolutions + 1)

    def architecture(self) -> dict[str, Any]:
        """The JSON description stored in the weights file."""
        return {
            "type": ARCHITECTURE,
            "blocks": self.blocks,
            "channels": self.channels,
            "scale": self.scale,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoised (N, 1, H, W) from noisy (N, 1, H, W)."""
        features = F.relu(self.head(F.pixel_unshuffle(x, self.scale)))
        noise = self.tail(self.body(features))
        return x - F.pixel_shuffle(noise, self.scale)


# ---------------------------------------------------------------------------------------------
# Weights: safetensors + JSON metadata, validated before the network is built.


def save_weights(
    model: PhotoDenoiser, path: str | os.PathLike[str], recipe: dict[str, Any], force: bool = True
) -> Path:
    """Write `model` and its training `recipe` as one safetensors file (no pickle)."""
    from safetensors.torch import save_file

    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": model.architecture(),
        "recipe": recipe,
    }
    tensors = {k: v.detach().to(torch.float32).contiguous() for k, v in model.state_dict().items()}
    target = Path(path)
    with atomic_path(target, force) as tmp:
        save_file(tensors, str(tmp), metadata={METADATA_KEY: json.dumps(meta, sort_keys=True)})
    return target


def _read_metadata(target: Path) -> dict[str, Any]:
    try:
        size = target.stat().st_size
    except OSError as exc:
        raise CheckpointError(f"cannot read denoiser weights {target}: {exc.strerror}") from None
    if size > MAX_BYTES:
        raise CheckpointError(f"{target} is {size:,} bytes, too large for a denoiser model")
    try:
        with safe_open(str(target), framework="pt") as handle:
            header = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{target} is not a readable safetensors file ({exc})") from None
    return parse_metadata(
        header,
        target,
        key=METADATA_KEY,
        fmt=FORMAT,
        version=FORMAT_VERSION,
        what="an aecli photo denoiser",
    )


def _validated_architecture(meta: dict[str, Any], target: Path) -> dict[str, int]:
    arch = meta.get("architecture")
    if not isinstance(arch, dict) or arch.get("type") != ARCHITECTURE:
        raise CheckpointError(f"{target}: unknown denoiser architecture; upgrade aecli")
    if set(arch) != {"type", "blocks", "channels", "scale"}:
        raise CheckpointError(f"{target}: the denoiser architecture has unexpected fields")
    limits = {"blocks": (1, MAX_BLOCKS), "channels": (1, MAX_CHANNELS), "scale": (1, 4)}
    out: dict[str, int] = {}
    for key, (low, high) in limits.items():
        value = arch[key]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise CheckpointError(
                f"{target}: architecture {key} = {value!r} not in [{low}, {high}]"
            )
        out[key] = value
    return out


def load_weights(path: str | os.PathLike[str]) -> PhotoDenoiser:
    """Load a denoiser written by `save_weights`, validating its metadata and tensor shapes."""
    target = Path(path)
    meta = _read_metadata(target)
    arch = _validated_architecture(meta, target)
    model = PhotoDenoiser(**arch)
    expected = model.state_dict()
    with safe_open(str(target), framework="pt") as handle:
        names = set(handle.keys())
        if names != set(expected):
            raise CheckpointError(f"{target}: its tensors do not match the declared architecture")
        state = {}
        for name in expected:
            tensor = handle.get_tensor(name)
            if tensor.shape != expected[name].shape or tensor.dtype != torch.float32:
                raise CheckpointError(f"{target}: tensor {name} has the wrong shape or type")
            if not torch.isfinite(tensor).all():
                raise CheckpointError(f"{target}: tensor {name} holds NaN or infinite values")
            state[name] = tensor
    model.load_state_dict(state)
    model.recipe = meta.get("recipe", {})  # type: ignore[assignment]
    return model.eval().requires_grad_(False)


def builtin_path(name: str = "photo") -> Path:
    """Where the built-in model `name` is stored inside the package."""
    if name not in BUILTINS:
        raise UserError(f"unknown built-in denoiser {name!r}; available: {', '.join(BUILTINS)}")
    return Path(str(resources.files("aecli") / "models" / f"{name}.safetensors"))


@functools.lru_cache(maxsize=4)
def load_builtin(name: str = "photo") -> PhotoDenoiser:
    """The built-in denoiser `name` (shared, in eval mode; loaded once per process)."""
    target = builtin_path(name)
    if not target.is_file():
        raise CheckpointError(f"the built-in model file {target} is missing; reinstall aecli")
    return load_weights(target)


# ---------------------------------------------------------------------------------------------
# Arrays


def _tiles(length: int, core: int) -> Iterator[tuple[int, int]]:
    for start in range(0, length, core):
        yield start, min(start + core, length)


def _denoise_plane(plane: np.ndarray, model: PhotoDenoiser, tile: int | None) -> np.ndarray:
    """Denoise one (H, W) plane; tiles of `tile` pixels plus the model's margin on each side."""
    scale, margin = model.scale, model.margin
    height, width = plane.shape
    pad_h, pad_w = (-height) % scale, (-width) % scale
    if pad_h or pad_w:
        mode = "reflect" if min(height, width) > 1 else "edge"
        plane = np.pad(plane, ((0, pad_h), (0, pad_w)), mode=mode)
    padded_h, padded_w = plane.shape
    core = padded_h if not tile else max(scale, tile - tile % scale)
    core_w = padded_w if not tile else core
    out = np.empty((padded_h, padded_w), dtype=np.float32)
    source = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32))
    with torch.inference_mode():
        for top, bottom in _tiles(padded_h, core):
            for left, right in _tiles(padded_w, core_w):
                y0, y1 = max(0, top - margin), min(padded_h, bottom + margin)
                x0, x1 = max(0, left - margin), min(padded_w, right + margin)
                patch = source[y0:y1, x0:x1][None, None].contiguous(
                    memory_format=torch.channels_last
                )
                result = model(patch)[0, 0]
                out[top:bottom, left:right] = result[
                    top - y0 : bottom - y0, left - x0 : right - x0
                ].numpy()
    return out[:height, :width]


def _fast(model: PhotoDenoiser) -> PhotoDenoiser:
    # channels_last lets oneDNN pick its fast convolutions (several times faster on CPU)
    return model.to(memory_format=torch.channels_last)


def denoise_array(
    array: np.ndarray, model: PhotoDenoiser | None = None, tile: int | None = DEFAULT_TILE
) -> np.ndarray:
    """Denoise an (H, W) or (H, W, C) float image in [0, 1]; returns float32 of the same shape.

    C == 3 is treated as RGB (opponent colour space); other C per channel. `tile=None`: one pass.
    """
    image = np.asarray(array)
    if image.ndim not in (2, 3) or image.size == 0:
        raise DataError(
            f"expected an (H, W) or (H, W, C) image, got an array of shape {image.shape}"
        )
    if not np.issubdtype(image.dtype, np.floating):
        raise DataError(f"expected a float image scaled to [0, 1], got dtype {image.dtype}")
    if not np.isfinite(image).all():
        raise DataError("the image holds NaN or infinite values")
    if tile is not None and tile < 1:
        raise UserError(f"tile must be a positive number of pixels, got {tile}")
    net = _fast(model if model is not None else load_builtin())
    values = image.astype(np.float32)  # float32 throughout: large photos stay affordable
    if values.ndim == 2:
        return np.clip(_denoise_plane(values, net, tile), 0.0, 1.0)
    if values.shape[2] == 3:
        forward, offset = _OPPONENT.astype(np.float32), _OPPONENT_OFFSET.astype(np.float32)
        opponent = values @ forward.T + offset
        planes = [_denoise_plane(opponent[..., c], net, tile) for c in range(3)]
        del opponent
        clean = (np.stack(planes, axis=-1) - offset) @ _OPPONENT_INVERSE.astype(np.float32).T
    else:
        clean = np.stack(
            [_denoise_plane(values[..., c], net, tile) for c in range(values.shape[2])], axis=-1
        )
    return np.clip(clean, 0.0, 1.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Files


def _check_suffix(dst: Path, fmt: str) -> None:
    suffix = dst.suffix.lower()
    known = {s: name for name, suffixes in _FORMAT_SUFFIXES.items() for s in suffixes}
    if suffix in known and known[suffix] != fmt:
        raise UserError(
            f"{dst} names a {known[suffix]} file but the input is {fmt}, and the output keeps the "
            f"input's format; name the output {dst.stem}{sorted(_FORMAT_SUFFIXES[fmt])[0]}"
        )


def denoise_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    force: bool = False,
    quality: int = 95,
    model: PhotoDenoiser | None = None,
    tile: int | None = DEFAULT_TILE,
    denoiser: Callable[[np.ndarray], np.ndarray] | None = None,
) -> None:
    """Denoise the image file `src` into `dst`, keeping its size, mode and format (atomic write).

    Modes L, LA, RGB, RGBA and I;16 are handled (alpha kept as is); JPEG is saved at `quality`.
    `denoiser` maps an (H, W, C) float image in [0, 1] (C = 1 or 3) to a cleaned one of the same
    shape; by default the photo model `model` (the built-in one if None) with tiles of `tile`.
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
    if denoiser is None:
        clean = denoise_array(colour if bands == 3 else colour[..., 0], model=model, tile=tile)
    else:
        clean = np.clip(denoiser(colour), 0.0, 1.0)
    clean = clean.reshape(colour.shape)
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


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of `test` against `clean`, both in [0, 1]."""
    mse = float(np.mean((np.asarray(clean, np.float64) - np.asarray(test, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
