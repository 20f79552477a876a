"""A trained autoencoder: the object users hold in Python and the CLI wraps.

`encode` / `decode` are scikit-learn's `transform` / `inverse_transform`. Learned state is the
network, the data adapter (schema, scaling, sizes) and the training history. The adapter turns
the user's data into model-space rows and back, so nothing here asks "table or images?".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from aecli.codec import Codec
from aecli.errors import UserError

Data = Any  # a path (CSV, TSV, Parquet, an image, a folder or glob of images), '-' or a frame


class Model(Codec):
    """A trained autoencoder with its data adapter; build one with `aecli.train` or
    `aecli.load`. The network, adapter and `apply` are `aecli.codec.Codec`'s; the verbs
    (encode, decode, denoise, sample, evaluate, score, save) are here."""

    # --- codes ---------------------------------------------------------------------------------

    def encode(
        self,
        data: Data,
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
        blocks = self.encode_blocks(
            data,
            keep,
            stochastic=stochastic,
            with_logvar=with_logvar,
            seed=seed,
            recursive=recursive,
        )
        return pd.concat(list(blocks), ignore_index=True)

    def encode_blocks(
        self,
        data: Data,
        keep: Sequence[str] = (),
        *,
        stochastic: bool = False,
        with_logvar: bool = False,
        seed: int = 0,
        recursive: bool = False,
    ) -> Iterator[pd.DataFrame]:
        """`encode` block by block as the input is read: memory does not grow with the rows."""
        from aecli.data.tables import join_columns

        self.require_codes("encode")
        if (stochastic or with_logvar) and not self.variational:
            raise UserError("--stochastic and --with-logvar need a model trained with --kind vae")
        columns = list(self.code_columns)
        fn: Callable[..., torch.Tensor] = self.net.encode
        if self.variational:
            from aecli.parts.variational import reparameterise

            gen = torch.Generator().manual_seed(seed)

            def fn(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
                mu, logvar = self.net.encode_dist(x, y)
                z = reparameterise(mu, logvar, gen) if stochastic else mu
                return torch.cat([z, logvar], dim=1)

            columns += [f"logvar{i + 1}" for i in range(self.latent_dim)]
        width = len(columns)
        shown = len(columns) if with_logvar else self.latent_dim
        for rows in self.adapter.blocks(data, keep, recursive):
            codes = self.apply(fn, rows.x, width=width, y=rows.y)[:, :shown]
            yield join_columns(rows.keys, pd.DataFrame(codes, columns=columns[:shown]))

    def decode(self, codes: Data, keep: Sequence[str] = (), *, probabilities: bool = False) -> Any:
        """From codes z1..zK back to the user's format: rows in the training data's columns,
        order, units and dtypes (categorical columns as labels, or with `probabilities` one
        column per category); for an image model, (name, PIL image) pairs named from the codes'
        `path` column (as `encode` writes it), else numbered."""
        parts = list(self.decode_blocks(codes, keep, probabilities=probabilities))
        return self.adapter.join_out(parts)

    def decode_blocks(self, codes: Data, keep: Sequence[str] = (), **how: Any) -> Iterator[Any]:
        """`decode` block by block as the codes are read."""
        from aecli.streams import decode_blocks

        self.require_codes("decode")
        return decode_blocks(self, codes, keep, how.get("probabilities", False))

    def decode_images(self, codes: Data) -> list[tuple[str, Any]]:
        """`decode` for an image model: (name, PIL image) per row of codes."""
        self.adapter.require("images", "decoding to images")
        return self.decode(codes)

    def reconstruct(self, data: Data) -> Any:
        """decode(encode(data)), in the data's own format and units."""
        self.require_codes("reconstruct")
        rows = self.adapter.read(data)
        return self.adapter.rows_out(self.reconstruct_array(rows.x, rows.y), rows.keys)

    def denoise(
        self,
        data: Data,
        *,
        all_cells: bool = False,
        iterations: int | None = None,
        seed: int = 0,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Fill every missing cell of a table with the model's estimate; with `all_cells`,
        replace every cell by its reconstruction. Returns the repaired table (same rows,
        columns, order and dtypes; other columns untouched) and a mask of changed cells.
        See `aecli.imputation` for how the number of rounds is chosen."""
        from aecli.imputation import repair_table

        self.adapter.require("table", "filling missing cells")
        return repair_table(self, data, all_cells=all_cells, iterations=iterations, seed=seed)

    def denoise_image(self, image: np.ndarray) -> np.ndarray:
        """x_hat = g(f(x)) over an (H, W, C) float image in [0, 1] of any size, by the tiler."""
        from aecli.imputation import denoise_image

        self.adapter.require("images", "denoising images")
        return denoise_image(self, image)

    # --- generation ------------------------------------------------------------------------

    def sample(
        self,
        n: int,
        *,
        seed: int = 0,
        temperature: float | None = None,
        source: str | None = None,
        condition: str | None = None,
    ) -> Any:
        """n new rows in the training data's format, units, dtypes and ranges (images: named
        sample-0001.png, ...).

        `source` "prior" draws z ~ N(0, T^2 I) (VAE only); "codes" draws from the density fitted
        to the training codes. Defaults: those chosen at training time on the validation rows
        (`history["sampling"]`, see `aecli.sample_choice`), else T = 1 and prior for a VAE,
        codes otherwise. A conditional model generates for `condition` (a value of its
        condition column), or for labels drawn with their training frequencies.
        """
        from aecli.sampling import draw_codes, finish_rows

        self.require_codes("sample")

        chosen = self.history.get("sampling", {})
        temperature = chosen.get("temperature", 1.0) if temperature is None else temperature
        z, labels, y = draw_codes(
            self, n, seed, temperature, source or chosen.get("source"), condition
        )
        x = self.apply(self._decode_mean, z, width=self.n_features, y=y)
        extras = self.extras.get("sampling")
        as_chosen = temperature == chosen.get("temperature", 1.0) and source in (
            None,
            chosen.get("source"),
        )
        calibrated = chosen.get("marginals") == "calibrated" and as_chosen and condition is None
        x = finish_rows(self, x, seed, chosen.get("noise"), extras, extras if calibrated else None)
        return self.adapter.rows_out(x, None, clip=True, labels=labels, prefix="sample-")

    def sample_images(
        self, n: int, *, seed: int = 0, temperature: float | None = None, source: str | None = None
    ) -> list[Any]:
        """n new images (PIL, the training size and channels), as `sample` draws rows."""
        self.adapter.require("images", "sampling images")
        named = self.sample(n, seed=seed, temperature=temperature, source=source)
        return [image for _, image in named]

    def evaluate(
        self, data: Data, *, importance_samples: int = 100, seed: int = 0
    ) -> Any:  # aecli.results.EvaluationFigures
        """Reconstruction error per feature and overall, beside PCA's; for a VAE also the ELBO
        and the IWAE estimate of log p(x), in nats per row (see `evaluation.py`)."""
        from aecli.evaluation import evaluate_blocks

        self.require_codes("evaluate")
        return evaluate_blocks(self, self.adapter.blocks(data), importance_samples, seed)

    # --- anomaly scores ---------------------------------------------------------------------

    def score_samples(
        self,
        data: Data,
        *,
        method: str | None = None,
        samples: int = 100,
        fast: bool = False,
        seed: int = 0,
        recursive: bool = False,
    ) -> np.ndarray:
        """One number per row (or image), in order, following scikit-learn's convention:
        HIGHER MEANS MORE NORMAL. It is minus the `score` column of `score_table` and
        `aecli score` (there, higher = more anomalous); with the likelihood method it is
        log p(x). `method` "reconstruction" or "likelihood" (the default where the checkpoint
        allows); `samples`: a VAE's importance samples, `fast`: its ELBO. See scoring.py."""
        from aecli.scoring import Scorer, settings_for

        settings = settings_for(self, method, samples, fast, seed)
        scorer, blocks = Scorer(self, settings), self.adapter.blocks(data, (), recursive)
        scores = [self.apply(scorer, r.x, width=1, y=r.y)[:, 0] for r in blocks]
        return -np.concatenate(scores).astype(np.float64)

    def score_table(self, data: Data, keep: Sequence[str] = (), **how: Any) -> pd.DataFrame:
        """What `aecli score` writes: `keep` columns (images: path), score (higher = more
        anomalous), percentile among the validation rows, outlier (0/1) and, with
        `explain=N`, the N columns contributing most. Options: method, samples, fast,
        contamination, threshold, explain, seed, recursive (see `aecli.score_table`)."""
        from aecli.score_table import score_table

        return score_table(self, data, keep, **how)

    transform = encode
    inverse_transform = decode

    # --- storage ---------------------------------------------------------------------------

    def save(self, path: str | os.PathLike[str], force: bool = False, resume: Any = None) -> Path:
        """Write one .safetensors file holding the weights and everything needed to use them.

        `resume` (the training loop's state) makes it a checkpoint `train --resume` continues.
        """
        from aecli.saving import save_model

        return save_model(self, path, force=force, resume=resume)
