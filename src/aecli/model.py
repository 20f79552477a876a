"""A trained autoencoder: the estimator users hold in Python and the CLI wraps.

`encode` / `decode` are scikit-learn's `transform` / `inverse_transform`; learned state is the
network, the data schema and the training history.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from aecli.data.images import (
    PATH_COLUMN,
    ImageRows,
    ImageSchema,
    denoise_tiled,
    find_images,
    is_image_source,
)
from aecli.data.table_files import read_table
from aecli.data.table_schema import TableSchema
from aecli.errors import AecliWarning, DataError, UserError
from aecli.options import TrainOptions
from aecli.parts.density import sample_mixture
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import Architecture, AutoencoderNet
from aecli.parts.variational import reparameterise

BLOCK_VALUES = 1 << 22  # values per block of rows (16 MiB of float32): wide images stay bounded


class Model:
    """A trained autoencoder with its data schema; build one with `aecli.train` or `aecli.load`."""

    def __init__(
        self,
        options: TrainOptions,
        schema: TableSchema | ImageSchema,
        net: AutoencoderNet,
        history: dict[str, Any],
        metrics: dict[str, Any],
        extras: dict[str, dict[str, np.ndarray]] | None = None,
    ) -> None:
        self.options = options
        self.schema = schema
        self.net = net.eval()
        self.history = history
        self.metrics = metrics
        self.extras = extras if extras is not None else {}  # "pca", "density": named arrays
        self.likelihood = Likelihood(*schema.kinds_and_widths())
        self.train_seconds: float | None = None

    @property
    def kind(self) -> str:
        return self.options.kind

    @property
    def architecture(self) -> Architecture:
        return self.net.arch

    @property
    def latent_dim(self) -> int:
        return self.net.arch.latent_dim

    @property
    def code_columns(self) -> list[str]:
        return [f"z{i + 1}" for i in range(self.latent_dim)]

    @property
    def variational(self) -> bool:
        return self.net.arch.variational

    @property
    def is_image(self) -> bool:
        """True for a model trained on images (its rows are C x H x W pixels)."""
        return isinstance(self.schema, ImageSchema)

    def _rows(
        self,
        data: str | Path | pd.DataFrame,
        keep: Sequence[str] = (),
        recursive: bool = False,
        lazy: bool = False,
    ) -> tuple[pd.DataFrame, Any, np.ndarray | None]:
        """The input's kept columns (for images: the `path` of each file), its model-space
        rows x and one-hot condition y (None unless the model is conditional). With `lazy`,
        images are read block by block as x is sliced, so memory stays bounded."""
        if isinstance(self.schema, ImageSchema):
            if isinstance(data, pd.DataFrame) or not is_image_source(data):
                raise UserError(
                    f"this model was trained on images; give an image, a folder or a glob, "
                    f"not {'a table' if isinstance(data, pd.DataFrame) else data}"
                )
            if keep:
                raise UserError("--keep is for tables; image codes always carry a path column")
            files = find_images(data, recursive)
            paths = pd.DataFrame({PATH_COLUMN: [f.as_posix() for f in files]})
            rows = ImageRows(self.schema, files)
            return paths, rows if lazy else rows[:], None
        if not isinstance(data, pd.DataFrame) and is_image_source(data):
            raise UserError(f"this model was trained on a table; {data} is not one")
        frame = read_table(data)
        return _kept_columns(frame, keep), self.schema.to_array(frame), self._condition(frame)

    def _table_schema(self, what: str) -> TableSchema:
        if not isinstance(self.schema, TableSchema):
            raise UserError(
                f"{what} is for table models; this model makes images (decode_images, "
                "sample_images, denoise_image; --out-dir on the command line)"
            )
        return self.schema

    def _image_schema(self, what: str) -> ImageSchema:
        if not isinstance(self.schema, ImageSchema):
            raise UserError(
                f"{what} is for models trained on images; this one was trained on a table "
                "(for photos, the built-in model: aecli denoise photo IMAGE)"
            )
        return self.schema

    def encode(
        self,
        data: str | Path | pd.DataFrame,
        keep: Sequence[str] = (),
        *,
        stochastic: bool = False,
        with_logvar: bool = False,
        seed: int = 0,
        recursive: bool = False,
    ) -> pd.DataFrame:
        """One row of codes z1..zK per input row, in order; `keep` columns copied in front.
        For an image model, `data` is an image, a folder (`recursive`: with subfolders) or a
        glob, and each row starts with the image's `path`.

        A VAE gives posterior means, or with `stochastic` a draw z ~ q(z | x) (seeded);
        `with_logvar` adds the posterior log-variances as logvar1..logvarK.
        """
        if (stochastic or with_logvar) and not self.variational:
            raise UserError("--stochastic and --with-logvar need a model trained with --kind vae")
        kept, x, y = self._rows(data, keep, recursive, lazy=True)
        if not self.variational:
            codes = self._apply(self.net.encode, x, y=y)
            return _join(kept, pd.DataFrame(codes, columns=self.code_columns))
        gen = torch.Generator().manual_seed(seed)

        def posterior(rows: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
            mu, logvar = self.net.encode_dist(rows, cond)
            z = reparameterise(mu, logvar, gen) if stochastic else mu
            return torch.cat([z, logvar], dim=1)

        both = self._apply(posterior, x, width=2 * self.latent_dim, y=y)
        columns = self.code_columns + [f"logvar{i + 1}" for i in range(self.latent_dim)]
        out = pd.DataFrame(both, columns=columns)
        return _join(kept, out if with_logvar else out[self.code_columns])

    def decode(
        self,
        codes: str | Path | pd.DataFrame,
        keep: Sequence[str] = (),
        *,
        probabilities: bool = False,
    ) -> pd.DataFrame:
        """Rows in the training data's columns, order, units and dtypes from codes z1..zK;
        categorical columns as labels, or with `probabilities` one column per category."""
        schema = self._table_schema("decode to a table")
        frame = read_table(codes)
        kept = _kept_columns(frame, keep)
        y = self._condition(frame, hint=" (encode with --keep COLUMN to carry it along)")
        recon = self._apply(self._decode_mean, self._codes(frame), width=self.schema_width, y=y)
        decoded = schema.from_array(recon, probabilities=probabilities)
        cond = schema.condition
        if cond is not None and cond.name not in kept.columns:
            decoded = cond.insert(decoded, frame[cond.name].map(str).tolist())
        return _join(kept, decoded)

    def decode_images(self, codes: str | Path | pd.DataFrame) -> list[tuple[str, Any]]:
        """(name, PIL image) per row of codes: the PNG name comes from the row's `path` (as
        `encode` writes it; relative, never leaving the output folder), else a number."""
        from aecli.data.images import output_names

        schema = self._image_schema("decoding to images")
        frame = read_table(codes)
        recon = self._apply(self._decode_mean, self._codes(frame), width=self.schema_width)
        paths = frame[PATH_COLUMN].astype(str).tolist() if PATH_COLUMN in frame.columns else []
        names = output_names(paths, len(frame))
        return list(zip(names, schema.to_images(recon), strict=True))

    def _codes(self, frame: pd.DataFrame) -> np.ndarray:
        """The code columns z1..zK of a codes table, checked."""
        missing = [c for c in self.code_columns if c not in frame.columns]
        if missing:
            raise DataError(
                f"the codes need columns {self.code_columns[0]}..{self.code_columns[-1]} "
                f"(this model has {self.latent_dim}); missing: {', '.join(missing[:5])}"
            )
        values = frame[self.code_columns]
        if not all(pd.api.types.is_numeric_dtype(values[c]) for c in self.code_columns):
            raise DataError("the code columns must hold numbers only")
        array = values.to_numpy(dtype=np.float32)
        if not np.isfinite(array).all():
            raise DataError("the code columns hold missing or infinite values; fix those rows")
        return array

    @property
    def schema_width(self) -> int:
        return self.net.arch.n_features

    def _condition(self, frame: pd.DataFrame, hint: str = "") -> np.ndarray | None:
        """The one-hot condition of a conditional model's rows; None for other models."""
        cond = self.schema.condition
        if cond is None:
            return None
        if cond.name not in frame.columns:
            raise DataError(f"this model is conditioned on column {cond.name!r}, absent here{hint}")
        return cond.one_hot(frame)

    def _decode_mean(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.likelihood.mean(self.net.decode(z, y))

    def reconstruct_array(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """E[x | z = encoder's code] for model-space rows (standardised; Bernoulli unscaled)."""

        def through(rows: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
            return self._decode_mean(self.net.encode(rows, cond), cond)

        return self._apply(through, x, width=self.schema_width, y=y)

    def reconstruct(self, data: str | Path | pd.DataFrame) -> pd.DataFrame:
        """decode(encode(data)), in the data's own units."""
        schema = self._table_schema("reconstruct")
        _, x, y = self._rows(data)
        return schema.from_array(self.reconstruct_array(x, y))

    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        """x_hat = g(f(x)) over an (H, W, C) float image in [0, 1] of any size: tiles of the
        training size, overlapping and blended. A grayscale model cleans each colour channel; a
        colour model sees a grayscale image as gray RGB and returns the mean of its channels."""
        schema = self._image_schema("denoising images")
        c = schema.channels
        size = (schema.height, schema.width)

        def rows(tiles: np.ndarray) -> np.ndarray:  # (N, H, W, C) -> (N, H, W, C)
            n, h, w, channels = tiles.shape
            if c == 1:  # each channel as its own grayscale image
                planes = tiles.transpose(0, 3, 1, 2).reshape(n * channels, h * w)
                out = self.reconstruct_array(planes).reshape(n, channels, h, w)
                return out.transpose(0, 2, 3, 1)
            rgb = tiles if channels == 3 else np.repeat(tiles, 3, axis=3)
            out = self.reconstruct_array(rgb.transpose(0, 3, 1, 2).reshape(n, -1))
            out = out.reshape(n, 3, h, w).transpose(0, 2, 3, 1)
            return out if channels == 3 else out.mean(axis=3, keepdims=True)

        image = np.asarray(image, np.float32)
        return np.clip(denoise_tiled(image, size, rows), 0.0, 1.0)

    def denoise(
        self,
        data: str | Path | pd.DataFrame,
        *,
        all_cells: bool = False,
        iterations: int | None = None,
        seed: int = 0,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fill every missing cell of the model's columns with the model's estimate; with
        `all_cells`, replace every cell by its reconstruction. Returns the repaired table (same
        rows, columns, order and dtypes; other columns untouched) and a mask of changed cells.

        Missing cells start at the training mean and are refined by iterated reconstruction,
        x_missing <- E[x | f(x filled so far)]. Iterating helps some models and hurts others, so
        by default the count (1 to 10) is chosen on the data itself: 10% of the present cells
        are hidden (seeded), and the count that restores them best is used.
        """
        schema = self._table_schema("filling missing cells")
        frame = read_table(data)
        x = schema.to_array(frame)
        y = self._condition(frame)
        missing = np.isnan(x)  # missing cells, and categories unseen in training
        masked = (self.options.noise or "").startswith("mask") or self.architecture.mask_inputs
        if missing.any() and not masked:
            warnings.warn(
                "this model never saw missing cells in training; fills are better from a model "
                "trained with --kind denoising --noise mask:0.2",
                AecliWarning,
                stacklevel=2,
            )
        if iterations is None:
            iterations = self._choose_iterations(x, y, missing, seed) if missing.any() else 1
        filled = self._impute(x, y, missing, iterations)
        absent = frame[schema.names].isna().to_numpy()  # only these are filled
        cells = np.ones_like(absent) if all_cells else absent
        values = self.reconstruct_array(filled, y) if all_cells else filled
        mask = pd.DataFrame(cells, columns=schema.names)
        return schema.write_back(frame, values, cells), mask

    def _impute(
        self, x: np.ndarray, y: np.ndarray | None, missing: np.ndarray, iterations: int
    ) -> np.ndarray:
        start = self.extras.get("pca", {}).get("mean", np.zeros(x.shape[1], np.float32))
        filled = np.where(missing, start, x).astype(np.float32)
        for _ in range(iterations if missing.any() else 0):
            filled = np.where(missing, self.reconstruct_array(filled, y), x).astype(np.float32)
        return filled

    def _choose_iterations(
        self, x: np.ndarray, y: np.ndarray | None, missing: np.ndarray, seed: int
    ) -> int:
        widths = [c.width for c in self._table_schema("filling missing cells").columns]
        by_column = np.random.default_rng(seed).random((len(x), len(widths))) < 0.1
        probe = np.repeat(by_column, widths, axis=1) & ~missing  # whole columns, as when missing
        if not probe.any():
            return 1
        hidden = missing | probe
        filled = np.where(hidden, np.nan, x)
        errors = [
            float(np.mean((self._impute(filled, y, hidden, t)[probe] - x[probe]) ** 2))
            for t in range(1, 11)
        ]
        return int(np.argmin(errors)) + 1

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float = 1.0,
        source: str | None = None,
        condition: str | None = None,
    ) -> pd.DataFrame:
        """n new rows in the training data's columns, units, dtypes and ranges (for an image
        model, see `sample_images`).

        `source` "prior" draws z ~ N(0, T^2 I) (VAE only); "codes" draws from the Gaussian
        mixture fitted to the training codes. Default: prior for a VAE, codes otherwise.
        A conditional model generates for `condition` (a value of its condition column), or
        for labels drawn with their training frequencies.
        """
        schema = self._table_schema("sample to a table")
        x, labels = self._sample_rows(n, seed, temperature, source, condition)
        rows = schema.from_array(x, clip=True)
        cond = schema.condition
        return cond.insert(rows, labels) if cond is not None and labels else rows

    def sample_images(
        self, n: int, *, seed: int = 0, temperature: float = 1.0, source: str | None = None
    ) -> list[Any]:
        """n new images (PIL, the training size and channels), as `sample` draws rows."""
        schema = self._image_schema("sampling images")
        return schema.to_images(self._sample_rows(n, seed, temperature, source, None)[0])

    def _sample_rows(
        self, n: int, seed: int, temperature: float, source: str | None, condition: str | None
    ) -> tuple[np.ndarray, list[str] | None]:
        """Model-space rows decoded from n drawn codes, with the condition labels if any."""
        source = source or ("prior" if self.variational else "codes")
        gen = torch.Generator().manual_seed(seed)
        cond = self.schema.condition
        labels: list[str] | None = None
        y: np.ndarray | None = None
        if cond is None and condition is not None:
            raise UserError("--condition needs a model trained with --condition COLUMN")
        if cond is not None:
            if condition is None:
                counts = torch.tensor(cond.counts, dtype=torch.float64)
                drawn = torch.multinomial(counts, n, replacement=True, generator=gen)
                labels = [cond.values[i] for i in drawn.tolist()]
            else:
                labels = [str(condition)] * n
            y = cond.encode_labels(labels)
        if source == "prior":
            if not self.variational:
                raise UserError("--from prior needs a VAE; other kinds sample with --from codes")
            z = temperature * torch.randn(n, self.latent_dim, generator=gen)
        elif source == "codes":
            if "density" not in self.extras:
                raise UserError(
                    "this checkpoint has no code density (an unfinished training run?); "
                    "finish training with --resume first"
                )
            density = {k: torch.from_numpy(v) for k, v in self.extras["density"].items()}
            z = sample_mixture(density, n, gen, temperature)
        else:
            raise UserError(f"--from {source!r} is not one of: prior, codes")
        return self._apply(self._decode_mean, z.numpy(), width=self.schema_width, y=y), labels

    def evaluate(
        self, data: str | Path | pd.DataFrame, *, importance_samples: int = 100, seed: int = 0
    ) -> dict[str, Any]:
        """Reconstruction error per feature and overall, beside PCA's; for a VAE also the ELBO
        and the IWAE estimate of log p(x), in nats per row (see `evaluation.py`)."""
        from aecli.evaluation import evaluate_model

        _, x, y = self._rows(data)
        return evaluate_model(self, x, y, importance_samples, seed)

    transform = encode
    inverse_transform = decode

    def _apply(
        self, fn: Any, array: Any, width: int | None = None, y: np.ndarray | None = None
    ) -> np.ndarray:
        """fn over blocks of rows (and of the condition y, when given), without gradients.
        `array` is an array or anything sliceable into one, such as `ImageRows`."""
        out = []
        block = max(1, BLOCK_VALUES // max(1, self.net.arch.n_features, width or 1))
        with torch.no_grad():
            for start in range(0, len(array), block):
                rows = torch.from_numpy(np.array(array[start : start + block], dtype=np.float32))
                if y is None:
                    out.append(fn(rows).numpy())
                else:
                    out.append(fn(rows, torch.from_numpy(y[start : start + block])).numpy())
        if out:
            return np.concatenate(out)
        return np.zeros((0, width or self.latent_dim), np.float32)

    def save(self, path: str | os.PathLike[str], force: bool = False, resume: Any = None) -> Path:
        """Write one .safetensors file holding the weights and everything needed to use them.

        `resume` (the training loop's state) makes it a checkpoint `train --resume` continues.
        """
        from aecli.store.checkpoint import save

        return save(self, path, force=force, resume=resume)

    def summary(self) -> dict[str, Any]:
        """What `inspect --json` prints: kind, architecture, options, schema, history, baseline."""
        return {
            "kind": self.kind,
            "architecture": self.architecture.to_dict(),
            "parameters": self.architecture.parameter_count(),
            "options": self.options.to_dict(),
            "schema": self.schema.to_dict(),
            "metrics": self.metrics,
            "history": self.history,
        }

    def __repr__(self) -> str:
        arch = self.architecture
        return (
            f"Model(kind={self.kind!r}, features={arch.n_features}, latent_dim={arch.latent_dim})"
        )


def _kept_columns(frame: pd.DataFrame, keep: Sequence[str]) -> pd.DataFrame:
    missing = [c for c in keep if c not in frame.columns]
    if missing:
        raise DataError(f"--keep names columns that are not in the data: {', '.join(missing)}")
    return frame[list(keep)].reset_index(drop=True)


def _join(kept: pd.DataFrame, values: pd.DataFrame) -> pd.DataFrame:
    clash = [c for c in kept.columns if c in values.columns]
    if clash:
        raise DataError(
            f"--keep column(s) {', '.join(clash)} clash with output columns; rename them"
        )
    return pd.concat([kept, values], axis=1) if len(kept.columns) else values
