"""The built-in photo denoiser: an ordinary checkpoint of the `denoiser` kind, shipped as
`models/photo.safetensors` and loaded like any other (`aecli.load("photo")`).

The network (DnCNN-style, run at half resolution on 2x2 pixel blocks as in FFDNet) predicts the
noise of a grayscale image with values in [0, 1] and subtracts it; it was trained on Gaussian noise
of standard deviation 0-55 (0-255 scale) and needs no noise level. Colour images are denoised in an
orthogonal opponent colour space (luma and two chroma channels: independent noise, each channel
with less noise than R, G or B). Large images are processed in tiles whose overlap covers the
receptive field, so tiling gives the whole-image result exactly while memory stays bounded.
The functions here are the array-level interface earlier versions offered; they also read the
weights files those versions wrote (format `aecli-photo-denoiser`).
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aecli.data.tiling import apply_with_margin
from aecli.errors import CheckpointError, DataError, UserError
from aecli.models import REGISTRY
from aecli.parts.residual import DenoiserNet, ResidualDenoiser, architecture_from_dict
from aecli.store.checkpoint import Format, open_record, read_format

FORMAT = Format("aecli_photo", "aecli-photo-denoiser", 1, "an aecli photo denoiser")
DEFAULT_TILE = 512
MAX_BYTES = 64 * 1024 * 1024
PhotoDenoiser = ResidualDenoiser  # the name earlier versions used


def load_weights(path: str | os.PathLike[str]) -> DenoiserNet:
    """The network of a denoiser checkpoint (validated by the ordinary loader), or of a weights
    file written by earlier versions; in eval mode, its training recipe as `.recipe`."""
    target = Path(path)
    if target.is_file() and target.stat().st_size > MAX_BYTES:
        size = target.stat().st_size
        raise CheckpointError(f"{target} is {size:,} bytes, too large for a denoiser model")
    if read_format(target) == FORMAT.name:
        return legacy_model(target).net.eval().requires_grad_(False)
    from aecli.saving import read_model

    loaded = read_model(target)
    if not isinstance(loaded.net, DenoiserNet):
        raise CheckpointError(f"{target} is a {loaded.options.kind} model, not a denoiser")
    loaded.net.recipe = loaded.history.get("recipe", {})  # type: ignore[assignment]
    return loaded.net.eval().requires_grad_(False)


def legacy_model(path: Path) -> Any:
    """A weights file of the earlier photo-denoiser format, validated, as a `denoiser` Model."""
    with open_record(path, FORMAT) as record:
        try:
            spec = architecture_from_dict(record.meta.get("architecture"))
        except CheckpointError as exc:
            raise CheckpointError(f"{path}: {exc}") from None
        net = ResidualDenoiser(**spec)
        expected = net.state_dict()
        if set(record.shapes) != set(expected):
            raise CheckpointError(f"{path}: its tensors do not match the declared architecture")
        state = {}
        for name in expected:
            tensor = record.tensor(name)
            if tensor.shape != expected[name].shape or tensor.dtype != torch.float32:
                raise CheckpointError(f"{path}: tensor {name} has the wrong shape or type")
            if not torch.isfinite(tensor).all():
                raise CheckpointError(f"{path}: tensor {name} holds NaN or infinite values")
            state[name] = tensor
        recipe = record.meta.get("recipe", {})
    return as_checkpoint(state, spec, recipe if isinstance(recipe, dict) else {})


def as_checkpoint(state: dict[str, torch.Tensor], spec: dict[str, int], recipe: dict) -> Any:
    """A residual network's weights and recipe as an ordinary `denoiser` Model (what the
    built-in photo checkpoint was converted with): trained on 64 x 64 grayscale crops."""
    from aecli.data.images import ImageAdapter
    from aecli.model import Model
    from aecli.options import TrainOptions
    from aecli.parts.architecture import Architecture

    patch = int(recipe.get("patch", 64))
    sigma = recipe.get("sigma_range_255", [0.0, 55.0])
    options = TrainOptions(
        kind="denoiser",
        noise=f"gaussian:{sigma[0]:g}-{sigma[1]:g}",
        patch=patch,
        batch_size=int(recipe.get("batch", 16)),
        lr=float(recipe.get("lr", 1e-3)),
        clip_grad=1.0,
        init="random",
        seed=int(recipe.get("seed", 0)),
        channels=1,
        width=spec["channels"],
        depth=spec["blocks"],
        colour="opponent",
    ).resolved()
    residual = {**spec, "colour": "opponent"}
    shape = (1, patch, patch)
    width = spec["channels"]
    arch = Architecture(patch * patch, width, (), "relu", image_shape=shape, residual=residual)
    net = DenoiserNet(arch)
    net.load_state_dict(state)
    adapter = ImageAdapter(patch, patch, 1, patches=True)
    history = {"epochs_planned": 0, "epochs_run": 0, "best_epoch": 0, "stopped_early": False}
    history.update(monitor="validation", records=[], recipe=recipe)
    validation = recipe.get("validation_psnr", {})
    metrics = {f"val_psnr_sigma{k}": v for k, v in validation.items()}
    return Model(options, adapter, net, history, metrics, {})


def builtin_path(name: str = "photo") -> Path:
    """Where the built-in model `name` is stored inside the package."""
    if name not in REGISTRY:
        raise UserError(f"unknown built-in model {name!r}; available: {', '.join(REGISTRY)}")
    return REGISTRY[name].path


@functools.lru_cache(maxsize=4)
def load_builtin(name: str = "photo") -> DenoiserNet:
    """The built-in denoiser `name`'s network (shared, in eval mode; loaded once per process)."""
    target = builtin_path(name)
    if not target.is_file():
        raise CheckpointError(f"the built-in model file {target} is missing; reinstall aecli")
    return load_weights(target)


def _as_net(model: ResidualDenoiser) -> DenoiserNet:
    """A plain residual network (as earlier versions built them) as the denoiser network."""
    if isinstance(model, DenoiserNet):
        return model
    spec = {**model.architecture(), "colour": "opponent"}
    del spec["type"]
    from aecli.parts.architecture import Architecture

    arch = Architecture(4, spec["channels"], (), "relu", image_shape=(1, 2, 2), residual=spec)
    net = DenoiserNet(arch)
    net.load_state_dict(model.state_dict())
    return net.eval()


def denoise_array(
    array: np.ndarray, model: ResidualDenoiser | None = None, tile: int | None = DEFAULT_TILE
) -> np.ndarray:
    """Denoise an (H, W) or (H, W, C) float image in [0, 1]; returns float32 of the same shape.

    C == 3 is treated as RGB (opponent colour space unless the model was trained per channel);
    other C per channel. `tile=None`: one pass. `model`: the built-in photo network if None."""
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
    net = _as_net(model if model is not None else load_builtin())
    net = net.to(memory_format=torch.channels_last)  # oneDNN's fast CPU convolutions
    planes = image.astype(np.float32)  # float32 throughout: large photos stay affordable
    planes = planes[None] if planes.ndim == 2 else planes.transpose(2, 0, 1)
    clean = apply_with_margin(planes, net.clean, net.scale, net.margin, tile)
    clean = clean[0] if image.ndim == 2 else clean.transpose(1, 2, 0)
    return np.clip(clean, 0.0, 1.0).astype(np.float32)


def denoise_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    force: bool = False,
    quality: int = 95,
    model: ResidualDenoiser | None = None,
    tile: int | None = DEFAULT_TILE,
) -> None:
    """Denoise the image file `src` into `dst` with the photo model `model` (the built-in one if
    None), keeping its size, mode and format (see `rewrite_image`)."""
    from aecli.data.image_rewrite import rewrite_image

    def clean(image: np.ndarray) -> np.ndarray:
        return denoise_array(image, model=model, tile=tile)

    rewrite_image(src, dst, clean, force=force, quality=quality)


def psnr(clean: np.ndarray, test: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of `test` against `clean`, both in [0, 1]."""
    mse = float(np.mean((np.asarray(clean, np.float64) - np.asarray(test, np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
