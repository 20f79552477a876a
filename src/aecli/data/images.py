"""The image adapter: folders, globs and files of images in, model-space rows out, and back.

An image becomes one row of C x H x W values in [0, 1] (channel-major), so every kind, the one
training loop and the checkpoint serve images as they serve tables; the convolutional network
reshapes rows back into images. The adapter travels in the checkpoint, so later commands read
and write images of the training size and channels without being told.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from PIL import Image

from aecli.data.adapter import Adapter, Fitted, Rows, Targets, Written, block_rows
from aecli.data.image_crops import CropStream, fixed_crops
from aecli.data.image_files import (
    GRAY_MODES,
    PATH_COLUMN,
    find_images,
    grid,
    header,
    image_targets,
    is_image_source,
    open_image,
    output_names,
    pixels,
    write_images,
)
from aecli.data.image_size import MAX_SIDE, parse_size
from aecli.errors import AecliWarning, CheckpointError, DataError, UserError
from aecli.progress import tick
from aecli.vocabulary import LIKELIHOODS

if TYPE_CHECKING:
    from aecli.options import TrainOptions

CROPS = 4000  # random crops for --patch training, or drawn per epoch (fewer if --steps uses fewer)
MIN_VAL_CROPS = 16  # fixed validation crops of a denoiser trained on fresh crops
LARGE_IMAGE = 96  # pixels a side beyond which a whole-image denoiser gets a --patch hint


@dataclass
class ImageAdapter(Adapter):
    """Images of one size and channel count, scaled to [0, 1]; a row is C x H x W values."""

    height: int
    width: int
    channels: int
    likelihood: str = "gaussian"  # of every pixel: "gaussian" (squared error) or "bernoulli"
    patches: bool = False  # trained on random crops of this size rather than whole images

    type = "images"
    noun = "images"
    feature_noun = "pixels"
    noise_unit = 255.0  # noise levels for images are on the 0-255 scale
    streams_out = False  # decoded images are numbered over all rows

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
    ) -> ImageAdapter:
        """The training size (given, the patch size, or the most common size) and channels
        (given, or 3 if any image has colour), read from the files' headers."""
        headers = [header(f) for f in files]
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

    @classmethod
    def accepts(cls, source: Any) -> bool:
        return is_image_source(source)

    @classmethod
    def fit_training(
        cls,
        source: Any,
        options: TrainOptions,
        variational: bool,
        stream: bool = False,
        part: tuple[int, int] | None = None,
    ) -> Fitted:
        """Whole images, or with --patch random crops at the images' own size, fresh for every
        batch from a bounded pool of decoded images (`CropStream`); `x` holds the validation
        crops, after a fixed sample of training crops (the PCA start, code density and score
        figures of a kind with codes) unless `stream` says the kind has no codes (a denoiser).
        One process of a torchrun job (`part`) keeps or draws only its share of whole images."""
        if options.condition is not None:
            raise UserError("--condition is for tables; images have no condition column")
        files = find_images(source, options.recursive)
        if len(files) < 2 and options.patch is None:
            raise DataError(
                f"{source}: training needs at least 2 images (or --patch P to learn from crops)"
            )
        adapter = cls.fit(files, options.channels, options.image_size, options.patch)
        adapter.choose_likelihoods(options.likelihood, variational)
        large = max(adapter.height, adapter.width) > LARGE_IMAGE
        if options.patch is None and options.noise and large:
            warnings.warn(
                f"training a denoiser on whole {adapter.size_text} images: it will only know "
                "these pictures as wholes; to denoise photos of any size, train on crops with "
                "--patch 16",
                AecliWarning,
                stacklevel=4,
            )
        if options.patch is None:
            from aecli.data.image_stream import (
                ImageStream,
                share_of_images,
                split_of_images,
                streams_images,
            )

            if not streams_images(len(files), adapter.n_features):
                if part is not None:
                    return share_of_images(adapter, files, options, part)
                return split_of_images(adapter, files, options)
            # decoded per batch by --workers
            images = ImageStream(adapter, files, options, part or (0, 1))
            return Fitted(adapter, images.x, None, n_inputs=1, stream=images)
        # crops per epoch (fresh for every batch): no more than --steps batches use
        wanted = min(CROPS, (options.steps or CROPS) * (options.batch_size or 128))
        crops = CropStream(files, adapter.channels, options.patch, wanted, options.seed)
        held_out = max(MIN_VAL_CROPS, round(wanted * options.val_fraction))
        x = fixed_crops(files, adapter.channels, options.patch, held_out, options.seed + 1)
        if not stream:  # a kind with codes: a fixed sample of training crops in front of the
            # validation ones, for the PCA start, the code density and the score figures
            sample = adapter.crops(files, options.seed, wanted)
            crops.sample_rows = len(sample)
            x = np.concatenate([sample, x])
        return Fitted(adapter, x, None, n_inputs=1, stream=crops)

    def blocks(
        self, source: Any, keep: Sequence[str] = (), recursive: bool = False
    ) -> Iterator[Rows]:
        if not self.accepts(source):
            what = "a table" if isinstance(source, pd.DataFrame | np.ndarray) else source
            raise UserError(
                f"this model was trained on images; give an image, a folder or a glob, not {what}"
            )
        if keep:
            raise UserError("--keep is for tables; image codes always carry a path column")
        files = find_images(source, recursive)
        step = block_rows(self.n_features)
        for start in range(0, len(files), step):
            chunk = files[start : start + step]
            paths = pd.DataFrame({PATH_COLUMN: [f.as_posix() for f in chunk]})
            yield Rows(paths, ImageRows(self, chunk), start=start)
            tick(start + len(chunk), len(files), "images", stream=True)

    def read(self, source: Any, keep: Sequence[str] = (), recursive: bool = False) -> Rows:
        """All images, decoded lazily: slicing `x` reads just those files."""
        parts = list(self.blocks(source, keep, recursive))
        files = [f for p in parts for f in p.x.files]
        return Rows(pd.concat([p.keys for p in parts], ignore_index=True), ImageRows(self, files))

    def rows_out(
        self,
        values: np.ndarray,
        keys: pd.DataFrame | None = None,
        *,
        prefix: str = "",
        **_: Any,
    ) -> list[tuple[str, Image.Image]]:
        """(name, image) pairs: PNG names from the keys' path column (relative, never leaving the
        output folder), else numbered, with `prefix` (sample-0001.png)."""
        paths = []
        if keys is not None and PATH_COLUMN in keys.columns:
            paths = keys[PATH_COLUMN].astype(str).tolist()
        names = output_names(paths, len(values), prefix)
        return list(zip(names, self.to_images(values), strict=True))

    def check_targets(self, targets: Targets, force: bool, inputs: Sequence[Any]) -> Targets:
        from aecli.store.atomic import check_output

        if targets.output is not None:
            raise UserError("this model makes images: write them with --out-dir DIR (not -o)")
        if targets.out_dir is None and targets.grid is None:
            raise UserError("this model makes images: give --out-dir DIR (and/or --grid FILE.png)")
        grid = targets.grid
        if grid is not None:
            if grid.suffix.lower() != ".png":
                raise UserError(
                    f"--grid {grid}: the grid is written as PNG; name it {grid.stem}.png"
                )
            check_output(grid, force, inputs=inputs)
        return targets

    def write(
        self,
        result: list[tuple[str, Image.Image]],
        targets: Targets,
        force: bool,
        inputs: Sequence[Any],
    ) -> Written:
        """PNGs named from the result under `out_dir` (every target checked before the first is
        written), and/or all of them on one `grid` sheet."""
        images = [image for _, image in result]
        written: list[Path] = []
        if targets.out_dir is not None:
            written = image_targets(targets.out_dir, [n for n, _ in result], force, inputs)
            write_images(images, written, force)
        if targets.grid is not None and images:
            write_images([grid(images)], [targets.grid], force)
        where = " and ".join(str(x) for x in (targets.out_dir, targets.grid) if x)
        sheet = str(targets.grid) if targets.grid else None
        summary = {"outputs": [str(w) for w in written], "grid": sheet, "images": len(images)}
        return Written(summary, where, len(images))

    def code_keys(self, codes: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
        if keep:
            raise UserError("--keep is for tables; decoded images are named from the path column")
        return codes[[PATH_COLUMN]] if PATH_COLUMN in codes.columns else codes.iloc[:, :0]

    def value_range(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(self.n_features, x.dtype), np.ones(self.n_features, x.dtype)

    def default_latent_dim(self, n_inputs: int) -> int:
        return 16

    def body(self, options: TrainOptions) -> tuple[int, ...]:
        return options.conv

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.shape

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

    def crops(self, files: Sequence[Path], seed: int, rows: int = CROPS) -> np.ndarray:
        """`rows` random crops of the schema's size, drawn uniformly over the crop positions
        of the images at their own size; images smaller than a crop are reflect-padded."""
        return fixed_crops(files, self.channels, self.height, rows, seed)

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
    def from_dict(cls, data: dict[str, Any]) -> ImageAdapter:
        ok = (
            set(data) == {"type", "height", "width", "channels", "likelihood", "patches"}
            and isinstance(data["patches"], bool)
            and data["likelihood"] in LIKELIHOODS
            and data["channels"] in (1, 3)
            and all(
                isinstance(data[s], int) and 1 <= data[s] <= MAX_SIDE for s in ("height", "width")
            )
        )
        if not ok:
            raise CheckpointError("checkpoint metadata: the image schema is malformed")
        return cls(
            data["height"],
            data["width"],
            data["channels"],
            data["likelihood"],
            data.get("patches", False),
        )


class ImageRows:
    """Model-space rows of image files, read only when sliced: `rows[a:b]` loads those files."""

    def __init__(self, schema: ImageAdapter, files: Sequence[Path]) -> None:
        self.schema, self.files = schema, list(files)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, block: slice) -> np.ndarray:
        return self.schema.load(self.files[block])
