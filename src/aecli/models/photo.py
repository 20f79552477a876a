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
import math
import os
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import torch

from aecli.data.tiling import apply_with_margin
from aecli.errors import CheckpointError, DataError, UserError
from aecli.models import REGISTRY
from aecli.parts.residual import ResidualDenoiser, architecture_from_dict
from aecli.store.checkpoint import Format, open_record, write_record

FORMAT = Format("aecli_photo", "aecli-photo-denoiser", 1, "an aecli photo denoiser")
DEFAULT_TILE = 512
MAX_BYTES = 64 * 1024 * 1024
PhotoDenoiser = ResidualDenoiser  # the name earlier versions used

# Orthogonal rows: i.i.d. noise in R, G, B stays independent in the three channels, each with a
# smaller standard deviation (1/sqrt(3), 1/sqrt(2), sqrt(6)/4 of the RGB one); every channel of a
# [0, 1] image stays in [0, 1] after the offsets.
_OPPONENT = np.array(
    [[1 / 3, 1 / 3, 1 / 3], [1 / 2, 0.0, -1 / 2], [1 / 4, -1 / 2, 1 / 4]], dtype=np.float64
)
_OPPONENT_OFFSET = np.array([0.0, 0.5, 0.5])
_OPPONENT_INVERSE = np.linalg.inv(_OPPONENT)

# ---------------------------------------------------------------------------------------------
# Weights: one record in the store's format, validated before the network is built.


def save_weights(
    model: ResidualDenoiser,
    path: str | os.PathLike[str],
    recipe: dict[str, Any],
    force: bool = True,
) -> Path:
    """Write `model` and its training `recipe` as one safetensors file (no pickle)."""
    meta = {"architecture": model.architecture(), "recipe": recipe}
    tensors = {k: v.to(torch.float32) for k, v in model.state_dict().items()}
    return write_record(path, meta, tensors, FORMAT, force=force)


def load_weights(path: str | os.PathLike[str]) -> ResidualDenoiser:
    """Load a denoiser written by `save_weights`, validating its metadata and tensor shapes."""
    target = Path(path)
    if target.is_file() and target.stat().st_size > MAX_BYTES:
        size = target.stat().st_size
        raise CheckpointError(f"{target} is {size:,} bytes, too large for a denoiser model")
    with open_record(target, FORMAT) as record:
        try:
            model = ResidualDenoiser(**architecture_from_dict(record.meta.get("architecture")))
        except CheckpointError as exc:
            raise CheckpointError(f"{target}: {exc}") from None
        expected = model.state_dict()
        if set(record.shapes) != set(expected):
            raise CheckpointError(f"{target}: its tensors do not match the declared architecture")
        state = {}
        for name in expected:
            tensor = record.tensor(name)
            if tensor.shape != expected[name].shape or tensor.dtype != torch.float32:
                raise CheckpointError(f"{target}: tensor {name} has the wrong shape or type")
            if not torch.isfinite(tensor).all():
                raise CheckpointError(f"{target}: tensor {name} holds NaN or infinite values")
            state[name] = tensor
    model.load_state_dict(state)
    model.recipe = record.meta.get("recipe", {})  # type: ignore[assignment]
    return model.eval().requires_grad_(False)


def builtin_path(name: str = "photo") -> Path:
    """Where the built-in model `name` is stored inside the package."""
    if name not in REGISTRY:
        raise UserError(f"unknown built-in model {name!r}; available: {', '.join(REGISTRY)}")
    return REGISTRY[name].path


@functools.lru_cache(maxsize=4)
def load_builtin(name: str = "photo") -> ResidualDenoiser:
    """The built-in denoiser `name` (shared, in eval mode; loaded once per process)."""
    target = builtin_path(name)
    if not target.is_file():
        raise CheckpointError(f"the built-in model file {target} is missing; reinstall aecli")
    return load_weights(target)


# ---------------------------------------------------------------------------------------------
# Arrays


def _denoise_plane(plane: np.ndarray, model: ResidualDenoiser, tile: int | None) -> np.ndarray:
    """Denoise one (H, W) plane; tiles of `tile` pixels plus the model's margin on each side."""
    return apply_with_margin(plane, model, model.scale, model.margin, tile)


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


class PhotoModel:
    """A built-in denoiser as `aecli.load(name)` returns it: `denoise_image` cleans an (H, W, C)
    image of any size; the bottleneck verbs (encode, decode, sample, ...) say how it is used."""

    kind = "denoiser"
    is_image = True

    def __init__(self, net: ResidualDenoiser, name: str) -> None:
        self.net, self.name = net, name

    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        plane = image if image.shape[2] == 3 else image[..., 0]
        return denoise_array(plane, model=self.net).reshape(image.shape)

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        usage = REGISTRY[self.name].usage if self.name in REGISTRY else "aecli denoise MODEL IMAGE"
        raise UserError(f"{self.name} is a built-in denoiser, used as: {usage}")

    encode = decode = sample = evaluate = summary = denoise = reconstruct = _refuse
    encode_blocks = decode_blocks = _refuse

    def __repr__(self) -> str:
        return f"PhotoModel({self.name!r})"


def load_model(path: str | os.PathLike[str], name: str | None = None) -> PhotoModel:
    """A photo-denoiser weights file as a model (see `PhotoModel`)."""
    return PhotoModel(load_weights(path), name or Path(path).stem)


def denoise_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    force: bool = False,
    quality: int = 95,
    model: PhotoDenoiser | None = None,
    tile: int | None = DEFAULT_TILE,
) -> None:
    """Denoise the image file `src` into `dst` with the photo model `model` (the built-in one if
    None), keeping its size, mode and format (see `rewrite_image`)."""
    from aecli.data.image_rewrite import rewrite_image

    def clean(image: np.ndarray) -> np.ndarray:
        plane = image if image.shape[2] == 3 else image[..., 0]
        return denoise_array(plane, model=model, tile=tile).reshape(image.shape)

    rewrite_image(src, dst, clean, force=force, quality=quality)


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of `test` against `clean`, both in [0, 1]."""
    mse = float(np.mean((np.asarray(clean, np.float64) - np.asarray(test, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
