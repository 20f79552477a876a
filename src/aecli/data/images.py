"""The image adapter: folders, globs and files of images in, model-space rows out, and back.

An image becomes one row of C x H x W values in [0, 1] (channel-major), so every kind, the one
training loop and the checkpoint serve images as they serve tables; the convolutional network
reshapes rows back into images. `ImageSchema` travels in the checkpoint, so later commands read
and write images of the training size and channels without being told.
"""

from __future__ import annotations

import glob
import math
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from aecli.errors import AecliWarning, DataError, UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
MAX_SIDE = 2048  # of the training size: a dense bottleneck over more pixels is not useful
PATH_COLUMN = "path"


def is_image_source(data: Any) -> bool:
    """True for a folder, a glob pattern, or a file with an image suffix."""
    if isinstance(data, pd.DataFrame) or str(data) == "-":
        return False
    path = Path(str(data))
    if path.is_dir():
        return True
    if not path.exists() and any(ch in str(data) for ch in "*?["):
        return True
    return path.suffix.lower() in IMAGE_SUFFIXES


def find_images(spec: str | os.PathLike[str], recursive: bool = False) -> list[Path]:
    """The image files a folder (with `recursive`, its subfolders too), a glob or one file
    names, sorted by path so rows come in a stable order."""
    text = str(spec)
    path = Path(text)
    if path.is_dir():
        found = path.rglob("*") if recursive else path.iterdir()
        files = [f for f in found if f.is_file() and not f.name.startswith(".")]
    elif path.is_file():
        files = [path]
    elif any(ch in text for ch in "*?["):
        files = [Path(f) for f in glob.glob(text, recursive=recursive) if Path(f).is_file()]
    else:
        raise DataError(f"{text}: no such image file or folder; check the path")
    images = sorted((f for f in files if f.suffix.lower() in IMAGE_SUFFIXES), key=str)
    if not images:
        flag = "" if recursive or not path.is_dir() else "; add --recursive for subfolders"
        raise DataError(
            f"{text} holds no images ({', '.join(s[1:] for s in IMAGE_SUFFIXES)}){flag}; "
            "a table is given as its file"
        )
    return images


def open_image(src: Path) -> Image.Image:
    """Open and decode an image, refusing decompression bombs; every failure is a DataError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(src)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            f"{src} declares more than {Image.MAX_IMAGE_PIXELS:,} pixels, which could be a "
            "decompression bomb; downscale or split it first"
        ) from None
    except FileNotFoundError:
        raise DataError(f"{src} does not exist; check the path") from None
    except IsADirectoryError:
        raise DataError(f"{src} is a folder; give an image file") from None
    except UnidentifiedImageError:
        raise DataError(f"{src} is not an image Pillow can read; give a PNG or JPEG file") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{src} could not be read as an image ({exc}); it may be damaged") from None
    return image


def _header(src: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and mode, from the file's header only."""
    try:
        with Image.open(src) as image:
            return image.size, image.mode
    except (OSError, ValueError, SyntaxError):
        open_image(src)  # raises the one-line error
        raise


def parse_size(text: str) -> tuple[int, int]:
    """'28x28' -> (height, width)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        height, width = (int(p) for p in parts)
    except ValueError:
        raise UserError(f"--image-size {text!r}: write it as HEIGHTxWIDTH, e.g. 28x28") from None
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise UserError(f"--image-size {text!r}: each side must be between 1 and {MAX_SIDE}")
    return height, width


def pixels(image: Image.Image, channels: int) -> np.ndarray:
    """(H, W, channels) float32 in [0, 1] from any Pillow image; alpha is composited on black
    (channels 1: luma)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        gray = np.asarray(image, dtype=np.float32)
        full = 65535.0 if gray.max(initial=0) > 255 else 255.0
        gray = np.clip(gray / full, 0.0, 1.0)[..., None]
        return gray if channels == 1 else np.repeat(gray, 3, axis=2)
    if image.mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)[..., None]
        return gray if channels == 1 else np.repeat(gray, 3, axis=2)
    converted = image.convert("L" if channels == 1 else "RGB")
    values = np.asarray(converted, dtype=np.float32) / 255.0
    return values[..., None] if channels == 1 else values


@dataclass
class ImageSchema:
    """Images of one size and channel count, scaled to [0, 1]; a row is C x H x W values."""

    height: int
    width: int
    channels: int
    likelihood: str = "gaussian"  # of every pixel: "gaussian" (squared error) or "bernoulli"
    patches: bool = False  # trained on random crops of this size rather than whole images

    condition = None  # images have no condition column
    n_condition = 0

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.channels, self.height, self.width

    @property
    def n_features(self) -> int:
        return self.channels * self.height * self.width

    @property
    def size_text(self) -> str:
        return f"{self.height}x{self.width}"

    @classmethod
    def fit(
        cls,
        files: Sequence[Path],
        channels: int | None = None,
        size: str | None = None,
        patch: int | None = None,
    ) -> ImageSchema:
        """The training size (given, the patch size, or the most common size) and channels
        (given, or 3 if any image has colour), read from the files' headers."""
        headers = [_header(f) for f in files]
        if patch is not None:
            height, width = patch, patch
        elif size is not None:
            height, width = parse_size(size)
        else:
            (width, height), _ = Counter(s for s, _ in headers).most_common(1)[0]
            if max(height, width) > MAX_SIDE:
                raise DataError(
                    f"the images are {height}x{width}; train on smaller ones with "
                    f"--image-size HxW (at most {MAX_SIDE} a side), or denoise large photos "
                    "with the built-in model: aecli denoise photo IMAGE"
                )
        if channels is None:
            channels = 1 if all(m in GRAY_MODES for _, m in headers) else 3
        if channels not in (1, 3):
            raise UserError(f"--channels must be 1 (grayscale) or 3 (RGB), not {channels}")
        return cls(height, width, channels, patches=patch is not None)

    def choose_likelihoods(self, choice: str, variational: bool) -> list[str]:
        """auto: Bernoulli pixels for a VAE (a likelihood of values in [0, 1]), squared error
        otherwise; pixels are never standardised."""
        self.likelihood = choice if choice != "auto" else "bernoulli" if variational else "gaussian"
        return [self.likelihood]

    def kinds_and_widths(self) -> tuple[list[str], list[int]]:
        return [self.likelihood] * self.n_features, [1] * self.n_features

    def load(self, files: Sequence[Path]) -> np.ndarray:
        """(N, C*H*W) float32 rows; images of another size are resized, with one warning."""
        rows = np.empty((len(files), self.n_features), np.float32)
        resized = 0
        for i, src in enumerate(files):
            image = open_image(src)
            if image.size != (self.width, self.height):
                resized += 1
                image = image.resize((self.width, self.height), Image.Resampling.BILINEAR)
            rows[i] = pixels(image, self.channels).transpose(2, 0, 1).reshape(-1)
        if resized:
            warnings.warn(
                f"{resized} of {len(files)} images are not {self.size_text} and were resized "
                "to it (set the size with --image-size HxW at training)",
                AecliWarning,
                stacklevel=2,
            )
        return rows

    def crops(self, files: Sequence[Path], seed: int, rows: int = 4000) -> np.ndarray:
        """About `rows` random crops of the schema's size (at least 16 per image), drawn
        uniformly from each image at its own size; images smaller than a crop are
        reflect-padded."""
        per_image = max(16, math.ceil(rows / len(files)))
        rng = np.random.default_rng(seed)
        out = np.empty((per_image * len(files), self.n_features), np.float32)
        h, w = self.height, self.width
        for i, src in enumerate(files):
            image = pixels(open_image(src), self.channels)
            pad_h, pad_w = max(0, h - image.shape[0]), max(0, w - image.shape[1])
            if pad_h or pad_w:
                image = np.pad(image, ((0, pad_h), (0, pad_w), (0, 0)), mode="symmetric")
            tops = rng.integers(0, image.shape[0] - h + 1, per_image)
            lefts = rng.integers(0, image.shape[1] - w + 1, per_image)
            for j, (y, x) in enumerate(zip(tops, lefts, strict=True)):
                crop = image[y : y + h, x : x + w].transpose(2, 0, 1)
                out[i * per_image + j] = crop.reshape(-1)
        return out

    def to_images(self, rows: np.ndarray) -> list[Image.Image]:
        """8-bit grayscale (L) or RGB images from rows of values in [0, 1]."""
        values = np.clip(np.asarray(rows, np.float32), 0.0, 1.0).reshape(-1, *self.shape)
        values = np.rint(values * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)
        if self.channels == 1:
            return [Image.fromarray(v[..., 0]) for v in values]
        return [Image.fromarray(v) for v in values]

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "images",
            "height": self.height,
            "width": self.width,
            "channels": self.channels,
            "likelihood": self.likelihood,
            "patches": self.patches,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ImageSchema:
        return cls(
            data["height"],
            data["width"],
            data["channels"],
            data["likelihood"],
            data.get("patches", False),
        )


class ImageRows:
    """Model-space rows of image files, read only when sliced: `rows[a:b]` loads those files."""

    def __init__(self, schema: ImageSchema, files: Sequence[Path]) -> None:
        self.schema, self.files = schema, list(files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, block: slice) -> np.ndarray:
        return self.schema.load(self.files[block])


def output_names(paths: Sequence[str], count: int) -> list[str]:
    """Relative PNG names for decoded rows: from the `path` column where given (made relative
    to the paths' common folder; '..', drive and root parts dropped, so nothing lands outside
    the output folder), else numbered 000001.png, ..."""
    if not paths:
        digits = max(6, len(str(count)))
        return [f"{i + 1:0{digits}d}.png" for i in range(count)]
    parts = [PurePosixPath(p.replace("\\", "/")).parts for p in paths]
    parts = [[s for s in p if s not in ("", ".", "..", "/") and not s.endswith(":")] for p in parts]
    if any(not p or any(ord(ch) < 32 for ch in "".join(p)) for p in parts):
        raise DataError("the path column has an empty or unusable name; fix those rows")
    common = 0
    folders = [p[:-1] for p in parts]
    while all(len(f) > common and f[common] == folders[0][common] for f in folders):
        common += 1
    names = [str(PurePosixPath(*p[common:]).with_suffix(".png")) for p in parts]
    dupes = [n for n, c in Counter(names).items() if c > 1]
    if dupes:
        raise DataError(f"the path column names {dupes[0]} more than once; make the paths unique")
    return names


def safe_target(out_dir: Path, name: str) -> Path:
    """out_dir / name, refused if it would resolve outside out_dir (symlinks included)."""
    target = out_dir / name
    root = out_dir.resolve()
    if not target.resolve().is_relative_to(root):
        raise DataError(f"{name} would be written outside {out_dir}; refusing")
    return target


def write_images(images: Sequence[Image.Image], targets: Sequence[Path], force: bool) -> None:
    """Each image to its PNG target, atomically (targets were checked before any work)."""
    from aecli.store.atomic import atomic_path

    for image, target in zip(images, targets, strict=True):
        with atomic_path(target, force) as tmp:
            image.save(tmp, format="PNG")


def grid(images: Sequence[Image.Image], columns: int | None = None, gap: int = 2) -> Image.Image:
    """One image tiling `images` row by row (about square), with a black gap between cells."""
    n = len(images)
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    width, height = images[0].size
    sheet = Image.new(images[0].mode, (columns * (width + gap) - gap, rows * (height + gap) - gap))
    for i, image in enumerate(images):
        sheet.paste(image, ((i % columns) * (width + gap), (i // columns) * (height + gap)))
    return sheet


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
