"""A trained autoencoder: the estimator users hold in Python and the CLI wraps.

`encode` / `decode` are scikit-learn's `transform` / `inverse_transform`; learned state is the
network, the data schema and the training history.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from aecli.errors import DataError
from aecli.networks import Architecture, AutoencoderNet
from aecli.options import TrainOptions
from aecli.tabular import TableSchema, read_table

BLOCK = 65536


class Model:
    """A trained autoencoder with its data schema; build one with `aecli.train` or `aecli.load`."""

    def __init__(
        self,
        options: TrainOptions,
        schema: TableSchema,
        net: AutoencoderNet,
        history: dict[str, Any],
        metrics: dict[str, Any],
    ) -> None:
        self.options = options
        self.schema = schema
        self.net = net.eval()
        self.history = history
        self.metrics = metrics
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

    def encode(self, data: str | Path | pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
        """One row of codes z1..zK per input row, in order; `keep` columns copied in front."""
        frame = read_table(data)
        kept = _kept_columns(frame, keep)
        codes = self._apply(self.net.encode, self.schema.to_array(frame))
        return _join(kept, pd.DataFrame(codes, columns=self.code_columns))

    def decode(self, codes: str | Path | pd.DataFrame, keep: Sequence[str] = ()) -> pd.DataFrame:
        """Rows in the training data's columns, order, units and dtypes from codes z1..zK."""
        frame = read_table(codes)
        kept = _kept_columns(frame, keep)
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
        recon = self._apply(self.net.decode, array)
        return _join(kept, self.schema.from_array(recon))

    def reconstruct(self, data: str | Path | pd.DataFrame) -> pd.DataFrame:
        """decode(encode(data)), in the data's own units."""
        frame = read_table(data)
        x = self._apply(self.net.forward, self.schema.to_array(frame))
        return self.schema.from_array(x)

    transform = encode
    inverse_transform = decode

    def _apply(self, fn: Any, array: np.ndarray) -> np.ndarray:
        out = []
        if not array.flags.writeable:
            array = array.copy()
        with torch.no_grad():
            for start in range(0, len(array), BLOCK):
                out.append(fn(torch.from_numpy(array[start : start + BLOCK])).numpy())
        return np.concatenate(out) if out else np.zeros((0, self.latent_dim), np.float32)

    def save(self, path: str | os.PathLike[str], force: bool = False, resume: Any = None) -> Path:
        """Write one .safetensors file holding the weights and everything needed to use them.

        `resume` (the training loop's state) makes it a checkpoint `train --resume` continues.
        """
        from aecli.checkpoint import save

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
