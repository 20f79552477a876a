"""The code size `train` uses when --latent-dim is not given."""

from __future__ import annotations

import warnings

import numpy as np

from aecli.data.adapter import Fitted
from aecli.data.moments import Moments
from aecli.errors import AecliWarning
from aecli.options import TrainOptions
from aecli.parts.kinds import KINDS
from aecli.parts.noise_spec import is_masking
from aecli.pca import components_for

IMPUTATION_CODE = 16  # the default code size of a table model trained with --noise mask:P
# a table's default code is at most half the model's input width and keeps at most the principal
# components that explain this share of the training rows' variance: with a code nearly as wide
# as the data an undercomplete model copies its input and anomaly scores lose their
# reconstruction term (benchmarks/README.md, bench_score)
EXPLAINED_SHARE = 0.95


def default_code_size(fitted: Fitted, opts: TrainOptions, x_train: np.ndarray | Moments) -> int:
    """--latent-dim, or the adapter's default: for a table also at most half the model's input
    width (one-hot slots counted) and the fewest principal components that explain
    EXPLAINED_SHARE of the training rows' variance (`x_train`, or on a stream the `Moments` of
    every training row, which the PCA start uses too), so the code is a real bottleneck (a
    table model trained with masking, an imputer: a wider code); a warning when the code
    cannot compress."""
    d = fitted.adapter.n_features
    k = opts.latent_dim or fitted.adapter.default_latent_dim(fitted.n_inputs)
    table = fitted.adapter.type == "table"
    if opts.latent_dim is None and is_masking(opts.noise) and table:
        k = max(1, min(IMPUTATION_CODE, fitted.n_inputs - 1))  # masking is the regulariser
    elif opts.latent_dim is None and table:
        k = max(1, min(k, d // 2, components_for(x_train, EXPLAINED_SHARE)))
    kind = KINDS[opts.kind]
    if k >= d and not kind.overcomplete_ok and opts.sparsity is None:
        warnings.warn(
            f"--latent-dim {k} is not smaller than the {d} input columns: an undercomplete model "
            "can learn to copy; use a smaller --latent-dim or --kind sparse",
            AecliWarning,
            stacklevel=3,
        )
    return k
