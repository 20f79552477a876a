"""The library API the CLI is a thin layer over: `train` and `load`."""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from aecli.data.images import ImageSchema, find_images, is_image_source
from aecli.data.table_files import read_table
from aecli.data.table_schema import TableSchema
from aecli.errors import AecliWarning, DataError, TrainingInterrupted, UserError
from aecli.model import Model
from aecli.options import TrainOptions
from aecli.parts.density import fit_code_density
from aecli.parts.kinds import KINDS
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import Architecture, AutoencoderNet
from aecli.parts.objective import Objective
from aecli.pca import pca_reconstruction_error, principal_axes
from aecli.training import EpochCallback, Trainer, auto_threads, torch_threads

LARGE_IMAGE = 96  # pixels a side beyond which a whole-image denoiser gets a --patch hint


def split_rows(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded shuffle into training and validation rows (none held out below 10 rows)."""
    order = np.random.default_rng(seed).permutation(n)
    n_val = round(n * val_fraction) if n >= 10 else 0
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def default_latent_dim(n_features: int) -> int:
    return max(1, min(8, n_features - 1))


def train(
    data: str | Path | pd.DataFrame,
    *,
    on_epoch: EpochCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    progress_path: str | os.PathLike[str] | None = None,
    checkpoint_every: int = 0,
    resume: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Model:
    """Train an autoencoder on a table (a DataFrame or a CSV / TSV / Parquet path).

    Keyword options are the fields of `TrainOptions` (kind, latent_dim, hidden, epochs, ...).
    With `progress_path`, a resumable checkpoint is written there every `checkpoint_every` epochs
    and when `should_stop()` turns true after a batch (then `TrainingInterrupted` is raised).
    `resume` continues from such a checkpoint (its options win) to the same final weights.
    """
    started = time.perf_counter()
    saved: tuple[Model, dict[str, Any], dict[str, torch.Tensor]] | None = None
    if resume is not None:
        from aecli.store.checkpoint import load_resume

        saved = load_resume(resume)
        opts = saved[0].options
    else:
        opts = TrainOptions.from_dict(options).resolved()
    kind = KINDS[opts.kind]
    schema, x, y = _read_training_data(data, opts, kind.variational)
    likelihood = Likelihood(*schema.kinds_and_widths())
    train_rows, val_rows = split_rows(len(x), opts.val_fraction, opts.seed)
    xy = x if y is None else np.concatenate([x, y], axis=1)  # the loop's rows: x, then y
    fingerprint = hashlib.sha256(xy.tobytes()).hexdigest()
    if saved is not None and saved[0].history.get("data_sha256") != fingerprint:
        raise DataError(
            f"{data} is not the data the interrupted run was training on; resume with the same file"
        )
    d = x.shape[1]
    images = isinstance(schema, ImageSchema)
    k = opts.latent_dim or (16 if images else default_latent_dim(d))
    if k >= d and not kind.overcomplete_ok and opts.sparsity is None:
        warnings.warn(
            f"--latent-dim {k} is not smaller than the {d} input columns: an undercomplete model "
            "can learn to copy; use a smaller --latent-dim or --kind sparse",
            AecliWarning,
            stacklevel=2,
        )
    opts.latent_dim = k
    arch = Architecture(
        n_features=d,
        n_condition=schema.n_condition,
        latent_dim=k,
        hidden=() if kind.linear else opts.conv if images else opts.hidden,
        activation=opts.activation,
        code_activation={"kl": "sigmoid", "l1": "shrink"}.get(opts.sparsity or ""),
        variational=kind.variational,
        learned_variance=kind.variational and not all(likelihood.is_bernoulli.tolist()),
        mask_inputs=bool(np.isnan(x).any()) or (opts.noise or "").startswith("mask"),
        image_shape=schema.shape if images else None,
    )
    x_train, x_val = torch.from_numpy(xy[train_rows]), torch.from_numpy(xy[val_rows])
    if images:  # pixels: salt-and-pepper is black and white
        low, high = torch.zeros(d), torch.ones(d)
    else:
        low = torch.from_numpy(np.nanmin(x[train_rows], axis=0))
        high = torch.from_numpy(np.nanmax(x[train_rows], axis=0))
    y_train = None if y is None else y[train_rows]
    y_val = None if y is None else y[val_rows]
    threads = opts.threads or auto_threads(arch.parameter_count(), opts.batch_size)
    with torch_threads(threads):
        torch.manual_seed(opts.seed)
        net = AutoencoderNet(arch)
        pca = pca_summary(x[train_rows], k)
        if opts.init == "pca":
            net.init_pca(torch.from_numpy(pca["axes"]), torch.from_numpy(pca["mean"]))
        objective = Objective(opts, low, high, likelihood, noise_unit=255.0 if images else 1.0)
        trainer = Trainer(net, objective, x_train, x_val, opts)
        if saved is not None:
            trainer.restore(saved[1], saved[2], saved[0].net.state_dict())
        held_out = x[val_rows] if len(val_rows) else x[train_rows]
        pca_error = pca_reconstruction_error(pca["axes"], pca["mean"], held_out)

        def snapshot(final: bool = False) -> Model:
            history = {**trainer.history(), "data_sha256": fingerprint}
            model = Model(opts, schema, trainer.best_net(), history, {}, {"pca": pca})
            model.metrics = _metrics(
                model, (x[train_rows], y_train), (x[val_rows], y_val), pca_error
            )
            if final:
                with torch.no_grad():
                    codes = model.net.encode(
                        x_train[:, :d], None if y_train is None else torch.from_numpy(y_train)
                    ).numpy()
                model.extras["density"] = fit_code_density(
                    codes, opts.seed, opts.code_density, opts.components
                )
            return model

        def save_progress() -> None:
            if progress_path is not None:
                resume_state = (trainer.state_meta(), trainer.state_tensors())
                snapshot().save(progress_path, force=True, resume=resume_state)

        done = trainer.run(on_epoch, should_stop, checkpoint_every, save_progress)
        if not done:
            save_progress()
            raise TrainingInterrupted(progress_path, trainer.epoch)
        model = snapshot(final=True)
    model.train_seconds = (
        time.perf_counter() - started
    )  # not saved: checkpoints stay byte-identical
    return model


def _read_training_data(
    data: str | Path | pd.DataFrame, opts: TrainOptions, variational: bool
) -> tuple[TableSchema | ImageSchema, np.ndarray, np.ndarray | None]:
    """The schema, model-space rows x and one-hot condition y (or None) of the training data:
    a table, or images (a folder, a glob or a file), detected from `data`."""
    if is_image_source(data):
        if opts.condition is not None:
            raise UserError("--condition is for tables; images have no condition column")
        files = find_images(data, opts.recursive)
        if len(files) < 2 and opts.patch is None:
            raise DataError(
                f"{data}: training needs at least 2 images (or --patch P to learn from crops)"
            )
        schema: TableSchema | ImageSchema = ImageSchema.fit(
            files, opts.channels, opts.image_size, opts.patch
        )
        schema.choose_likelihoods(opts.likelihood, variational)
        if opts.patch is None and opts.noise and max(schema.height, schema.width) > LARGE_IMAGE:
            warnings.warn(
                f"training a denoiser on whole {schema.size_text} images: it will only know "
                "these pictures as wholes; to denoise photos of any size, train on crops with "
                "--patch 16",
                AecliWarning,
                stacklevel=3,
            )
        rows = schema.crops(files, opts.seed) if opts.patch else schema.load(files)
        return schema, rows, None
    frame = read_table(data)
    if len(frame) < 2:
        raise DataError("training needs at least 2 rows")
    train_rows, _ = split_rows(len(frame), opts.val_fraction, opts.seed)
    schema = TableSchema.fit(
        frame,
        opts.drop,
        rows=train_rows,
        condition=opts.condition,
        categorical=opts.categorical,
        id_cols=opts.id_col,
    )
    schema.choose_likelihoods(opts.likelihood, variational)
    x = schema.to_array(frame)
    y = schema.condition.one_hot(frame) if schema.condition is not None else None
    return schema, x, y


def pca_summary(train: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """PCA of the training rows, kept in the checkpoint: the start of `undercomplete`, and the
    baseline `evaluate` compares with (probabilistic PCA's noise variance included)."""
    axes, variances = principal_axes(train, k)
    n = len(train)
    variances = variances * (n - 1) / max(n, 1)  # maximum-likelihood variances, as PPCA uses
    rest = variances[k:]
    return {
        "axes": axes.astype(np.float32),
        "mean": np.nanmean(train, axis=0).astype(np.float32),
        "variances": variances[:k].astype(np.float32),
        "noise_variance": np.array([rest.mean() if len(rest) else 0.0], np.float32),
    }


Rows = tuple[np.ndarray, np.ndarray | None]  # model-space x and the one-hot condition y


def _metrics(model: Model, train: Rows, val: Rows, pca_val: float) -> dict[str, Any]:
    """Reconstruction MSE (standardised units) of the model, beside PCA's on the same rows."""
    held_out = val if len(val[0]) else train

    def mse(rows: Rows) -> float:
        return float(np.nanmean((model.reconstruct_array(*rows) - rows[0]) ** 2))

    model_val = mse(held_out)
    return {
        "split": "validation" if len(val[0]) else "training",
        "rows_train": len(train[0]),
        "rows_val": len(val[0]),
        "train_mse": mse(train),
        "val_mse": model_val,
        "pca_val_mse": pca_val,
        "ratio_to_pca": model_val / pca_val if pca_val > 0 else None,
    }


def load(path: str | os.PathLike[str]) -> Model:
    """Load a checkpoint written by `Model.save` (safetensors + JSON; nothing is unpickled)."""
    from aecli.store.checkpoint import load as load_checkpoint

    return load_checkpoint(path)
