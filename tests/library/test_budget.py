"""The step budget: an explicit --steps is honoured exactly; the default grows in cycles while
the validation loss still improves (issue 18)."""

from __future__ import annotations

import itertools

import pytest
import torch

import aecli
from aecli import training
from conftest import SAMPLE

WINE = SAMPLE / "wine.csv"  # 160 training rows: 2 steps an epoch in batches of 128


def test_an_explicit_step_budget_is_honoured_exactly() -> None:
    model = aecli.train(WINE, latent_dim=3, hidden=(16,), steps=7, patience=0, seed=0)
    assert model.history["steps_run"] == 7
    assert model.history["epochs_run"] == 4  # the fourth epoch stopped after one batch
    assert model.history["cycles"] == 1


def test_the_default_budget_grows_while_validation_improves(monkeypatch) -> None:
    monkeypatch.setattr(training, "CYCLE_STEPS", 20)
    model = aecli.train(WINE, latent_dim=3, hidden=(16,), seed=0)
    history = model.history
    assert model.options.steps is None
    assert history["cycles"] > 1
    assert history["steps_run"] == 2 * history["epochs_run"] > 20
    fixed = aecli.train(WINE, latent_dim=3, hidden=(16,), seed=0, steps=20)
    assert fixed.history["steps_run"] == 20
    assert model.metrics["val_mse"] < fixed.metrics["val_mse"]
    assert history["cycles"] <= training.MAX_CYCLES


def test_interrupting_a_grown_budget_resumes_to_the_same_weights(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(training, "CYCLE_STEPS", 20)
    options = {"latent_dim": 3, "hidden": (16,), "seed": 0}
    whole = aecli.train(WINE, **options)
    assert whole.history["cycles"] > 1
    calls = itertools.count()
    stop_at = whole.history["steps_run"] - 7  # about one call a step: in the last cycle
    assert stop_at > 20
    progress = tmp_path / "p.safetensors"
    with pytest.raises(aecli.errors.TrainingInterrupted):
        aecli.train(
            WINE, should_stop=lambda: next(calls) >= stop_at, progress_path=progress, **options
        )
    resumed = aecli.train(WINE, resume=progress)
    for name, value in whole.net.state_dict().items():
        torch.testing.assert_close(resumed.net.state_dict()[name], value, rtol=0, atol=0)
    assert resumed.history["steps_run"] == whole.history["steps_run"]
