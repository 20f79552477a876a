"""Every registered kind, on a table and on images, through the library: train -> save -> load
-> encode -> decode, with the loaded model giving the trained model's codes exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import aecli
from aecli.parts.kinds import KINDS
from conftest import SAMPLE

TABLE = dict(steps=60, hidden=(16,), seed=0)
IMAGES = dict(steps=20, conv=(4,), seed=0, latent_dim=4)


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("digits")
    for source in sorted((SAMPLE / "mnist").glob("*.png"))[:24]:
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


BOTTLENECK = sorted(name for name, kind in KINDS.items() if not kind.residual)


@pytest.mark.parametrize("kind", BOTTLENECK)
def test_every_kind_round_trips_a_table(kind: str, tmp_path: Path) -> None:
    frame = pd.read_csv(SAMPLE / "penguins.csv").dropna()
    model = aecli.train(frame, kind=kind, latent_dim=3, **TABLE)
    path = model.save(tmp_path / f"{kind}.safetensors")
    loaded = aecli.load(path)
    assert loaded.kind == kind and loaded.adapter.type == "table"
    codes = loaded.encode(frame)
    assert list(codes.columns) == ["z1", "z2", "z3"] and len(codes) == len(frame)
    np.testing.assert_array_equal(codes.to_numpy(), model.encode(frame).to_numpy())
    decoded = loaded.decode(codes)
    assert list(decoded.columns) == [c for c in frame.columns if c in decoded.columns]
    assert decoded["species"].isin(frame["species"].unique()).all()  # labels, not numbers


@pytest.mark.parametrize("kind", BOTTLENECK)
def test_every_kind_round_trips_images(kind: str, digits: Path, tmp_path: Path) -> None:
    model = aecli.train(digits, kind=kind, **IMAGES)
    path = model.save(tmp_path / f"{kind}.safetensors")
    loaded = aecli.load(path)
    assert loaded.adapter.type == "images" and loaded.adapter.image_shape == (1, 28, 28)
    codes = loaded.encode(digits)
    assert list(codes.columns) == ["path", "z1", "z2", "z3", "z4"] and len(codes) == 24
    np.testing.assert_allclose(codes.iloc[:, 1:], model.encode(digits).iloc[:, 1:], atol=1e-6)
    named = loaded.decode(codes)
    assert [name for name, _ in named] == sorted(p.name for p in digits.glob("*.png"))
    assert all(image.size == (28, 28) and image.mode == "L" for _, image in named)
