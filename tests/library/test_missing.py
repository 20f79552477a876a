"""Missing cells: training leaves them out of the loss and shows the encoder where they are;
encode and denoise accept them; the model fills them better than the column means do."""

from __future__ import annotations

import numpy as np
import pandas as pd

import aecli
from aecli.api import split_rows
from conftest import SAMPLE


def test_training_with_missing_cells_gives_a_mask_aware_imputer():
    frame = pd.read_csv(SAMPLE / "breast_cancer.csv")
    train_rows, test_rows = split_rows(len(frame), 0.25, 0)
    rng = np.random.default_rng(1)
    train = frame.iloc[train_rows]
    train = train.mask(rng.random(train.shape) < 0.2)
    model = aecli.train(train, kind="denoising", noise="mask:0.2", latent_dim=8, steps=1500)
    assert model.architecture.mask_inputs
    assert np.isfinite(model.metrics["val_mse"])
    held = frame.iloc[test_rows].reset_index(drop=True)
    hide = rng.random(held.shape) < 0.2
    codes = model.encode(held.mask(hide))
    assert codes.notna().all().all() and len(codes) == len(held)
    repaired, mask = model.denoise(held.mask(hide))
    assert np.array_equal(mask.to_numpy(), hide)
    scale = train.std().to_numpy()
    model_err = np.mean(((repaired.to_numpy() - held.to_numpy()) / scale)[hide] ** 2)
    mean_err = np.mean(((train.mean().to_numpy() - held.to_numpy()) / scale)[hide] ** 2)
    assert model_err < 0.5 * mean_err
