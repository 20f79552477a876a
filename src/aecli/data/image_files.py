"""Image files: finding them (a folder, a glob, one file), decoding them safely, naming and
writing outputs inside an output folder, and a contact-sheet grid."""

from __future__ import annotations

import glob
import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from aecli.data.shards import Shard
from aecli.data.table_sources import IMAGE_SUFFIXES as IMAGE_SUFFIXES
from aecli.data.table_sources import is_table_collection
from aecli.errors import DataError

GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
PATH_COLUMN = "path"


def is_image_source(data: Any) -> bool:
    """True for a folder, a glob pattern, or a file with an image suffix."""
    if isinstance(data, pd.DataFrame | np.ndarray) or str(data) == "-":
        return False
    if is_table_collection(data):
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
    return spec.part(images) if isinstance(spec, Shard) else images


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


def header(src: Path) -> tuple[tuple[int, int], str]:
    """(width, height) and mode, from the file's header only."""
    try:
        with Image.open(src) as image:
            return image.size, image.mode
    except (OSError, ValueError, SyntaxError):
        open_image(src)  # raises the one-line error
        raise


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


def output_names(paths: Sequence[str], count: int, prefix: str = "") -> list[str]:
    """Relative PNG names for decoded rows: from the `path` column where given (made relative
    to the paths' common folder; '..', drive and root parts dropped, so nothing lands outside
    the output folder), else numbered 000001.png, ..."""
    if not paths:
        digits = max(4 if prefix else 6, len(str(count)))
        return [f"{prefix}{i + 1:0{digits}d}.png" for i in range(count)]
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


def image_targets(
    out_dir: Path, names: list[str], force: bool, inputs: Sequence[Any]
) -> list[Path]:
    """out_dir / name for each relative name: inside out_dir (made, with any subfolders), and
    neither an existing file (unless `force`) nor one of `inputs`; checked before any write."""
    from aecli.store.atomic import check_output

    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [safe_target(out_dir, name) for name in names]
    for folder in {t.parent for t in targets}:
        folder.mkdir(parents=True, exist_ok=True)
    for target in targets:
        check_output(target, force, inputs=inputs)
    return targets
