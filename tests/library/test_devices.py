"""Devices and precision, tested on the CPU: the device `--device` names, the one-line error
for a device this machine lacks (with CUDA faked where the message lists GPUs), bf16 autocast on
the CPU, and checkpoints that carry no device (saved anywhere, loaded on the CPU, then moved)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open

import aecli
from aecli import devices
from aecli.errors import UserError
from conftest import SAMPLE, invoke

WINE = pd.read_csv(SAMPLE / "wine.csv")
SMALL = {"latent_dim": 3, "hidden": (16,), "steps": 40, "seed": 1}


def test_auto_is_the_cpu_without_a_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert devices.resolve("auto") == torch.device("cpu")
    assert devices.resolve("cpu") == torch.device("cpu")


def test_an_unavailable_device_names_those_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(UserError, match=r"--device cuda is not available here; available: cpu$"):
        devices.resolve("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a machine with two GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert devices.resolve("auto") == torch.device("cuda")
    with pytest.raises(UserError, match="available: cpu, cuda, cuda:0, cuda:1"):
        devices.resolve("cuda:2")
    with pytest.raises(UserError, match="not a device"):
        devices.resolve("gpu0")


def test_precision_is_checked_against_the_device():
    cpu = torch.device("cpu")
    assert devices.check_precision(cpu, "bf16") == "bf16"
    with pytest.raises(UserError, match="fp16 needs a GPU"):
        devices.check_precision(cpu, "fp16")
    with pytest.raises(UserError, match="not one of"):
        devices.check_precision(cpu, "fp8")


def test_the_cli_refuses_an_unavailable_device_in_one_line(runner, shared_model, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for command in ("encode", "score", "evaluate"):
        result = invoke(runner, command, shared_model, SAMPLE / "wine.csv", "--device", "cuda:1")
        assert result.exit_code == 2, result.output
        assert result.stderr.strip() == (
            "error: --device cuda:1 is not available here; available: cpu"
        )
    result = invoke(runner, "train", SAMPLE / "wine.csv", "--precision", "fp16", "--quiet")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr


def test_cpu_training_records_its_device_and_bf16_autocast_works(tmp_path):
    model = aecli.train(WINE, device="cpu", **SMALL)
    assert model.history["device"] == "cpu"
    assert model.history["precision"] == "fp32" and model.history["world_size"] == 1
    half = aecli.train(WINE, device="cpu", precision="bf16", **SMALL)
    assert half.history["precision"] == "bf16"
    assert np.isfinite(half.metrics["val_mse"]) and half.metrics["val_mse"] < 1.0
    exact = model.encode(WINE).to_numpy()
    model.to("cpu", "bf16")
    rounded = model.encode(WINE).to_numpy()
    assert rounded.dtype == exact.dtype and not np.array_equal(rounded, exact)
    np.testing.assert_allclose(rounded, exact, atol=0.1)  # bf16 keeps ~3 significant digits


def test_checkpoints_hold_no_device_and_load_where_asked(tmp_path):
    model = aecli.train(WINE, **SMALL)
    path = model.save(tmp_path / "m.safetensors")
    with safe_open(str(path), framework="pt") as f:  # plain tensors: no pickled device
        assert all(f.get_tensor(k).device.type == "cpu" for k in f.keys())  # noqa: SIM118
    loaded = aecli.load(path, device="cpu")
    assert loaded.device == torch.device("cpu")
    assert all(p.device.type == "cpu" for p in loaded.net.parameters())
    pd.testing.assert_frame_equal(loaded.encode(WINE), model.encode(WINE))


def test_a_model_moved_between_devices_saves_cpu_tensors(tmp_path, monkeypatch):
    """A model on any device writes CPU copies: saving calls .cpu() on every weight."""
    model = aecli.train(WINE, **SMALL)
    moved = []
    original = torch.Tensor.cpu

    def cpu(self, *args, **kwargs):
        moved.append(tuple(self.shape))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "cpu", cpu)
    model.save(tmp_path / "m.safetensors")
    assert len(moved) >= len(model.net.state_dict())
