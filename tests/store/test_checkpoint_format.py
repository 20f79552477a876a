"""Checkpoint format versions: a file written by an older aecli loads through the migration."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pandas as pd

import aecli
from aecli.saving import FORMAT2_OPTIONS, migrate
from aecli.store.checkpoint import MODEL_FORMAT
from conftest import FIXTURES, SAMPLE

DATA = FIXTURES


def header(path: Path) -> dict:
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(json.loads(raw[8 : 8 + n])["__metadata__"]["aecli"])


def test_a_format1_checkpoint_loads_and_encodes():
    old = DATA / "format1-penguins.safetensors"  # written by aecli at commit 629db43
    assert header(old)["format_version"] == 1
    model = aecli.load(old)
    assert all(getattr(model.options, name) is None for name in FORMAT2_OPTIONS)
    codes = model.encode(pd.read_csv(SAMPLE / "penguins.csv"))
    assert len(codes) == 344 and not codes.isna().any().any()


def test_new_checkpoints_carry_the_current_format(tmp_path):
    model = aecli.load(DATA / "format1-penguins.safetensors")
    model.save(tmp_path / "again.safetensors")
    assert header(tmp_path / "again.safetensors")["format_version"] == MODEL_FORMAT.version == 3


def test_migration_fills_only_what_is_missing():
    meta = {"format_version": 1, "options": {"sep": ";", "seed": 3}}
    lifted = migrate(meta)
    assert lifted["format_version"] == MODEL_FORMAT.version
    assert lifted["options"] == {
        "sep": ";",
        "decimal": None,
        "thousands": None,
        "encoding": None,
        "seed": 3,
    }
    assert meta["format_version"] == 1  # the caller's dict is not changed
