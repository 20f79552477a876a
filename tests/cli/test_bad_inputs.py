"""The reliability contract, table-driven: every bad input gets exit code 2, one line naming the
problem, no traceback, and leaves every file in the folder as it was."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from conftest import FAST, SAMPLE, invoke


def snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def rewrite_metadata(src: Path, dst: Path, change: Callable[[dict], None]) -> None:
    with safe_open(str(src), framework="pt") as handle:
        meta = json.loads(handle.metadata()["aecli"])
    change(meta)
    save_file(load_file(str(src)), str(dst), metadata={"aecli": json.dumps(meta)})


def wine_frame() -> pd.DataFrame:
    return pd.read_csv(SAMPLE / "wine.csv")


# Each case: (id, files to create {name: bytes | callable(folder, model) -> None}, argv, message)
# In argv, "{model}" is the shared wine checkpoint copied into the folder as model.safetensors.
W = (SAMPLE / "wine.csv").read_bytes()
HEADER = W.split(b"\n", 1)[0] + b"\n"


def _frame_bytes(change: Callable[[pd.DataFrame], pd.DataFrame]) -> bytes:
    return change(wine_frame()).to_csv(index=False).encode()


def _set(column: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        frame[column] = frame[column].astype(object)
        frame.loc[3, column] = value
        return frame

    return change


def _all_nan(frame: pd.DataFrame) -> pd.DataFrame:
    frame["ash"] = float("nan")
    return frame


def _image_bytes(mode: str, fmt: str, size: tuple[int, int] = (24, 16)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, 128 if mode == "L" else (10, 20, 30, 40)).save(buffer, fmt)
    return buffer.getvalue()


PNG = _image_bytes("L", "PNG")

CASES: list[tuple[str, dict[str, object], list[str], str]] = [
    (
        "truncated image",
        {"a.png": PNG[: len(PNG) // 2]},
        ["denoise", "photo", "a.png", "-o", "b.png"],
        "a.png",
    ),
    (
        "image of the wrong channels",
        {"c.jpg": _image_bytes("CMYK", "JPEG")},
        ["denoise", "photo", "c.jpg", "-o", "d.jpg"],
        "CMYK",
    ),
    ("one image to train on", {"a.png": PNG}, ["train", "a.png"], "at least 2 images"),
    ("table model on an image", {"a.png": PNG}, ["denoise", "{model}", "a.png"], "photo"),
    ("folder without --out-dir", {"imgs/a.png": PNG}, ["denoise", "photo", "imgs"], "--out-dir"),
    (
        "denoise output exists",
        {"a.png": PNG, "b.png": PNG},
        ["denoise", "photo", "a.png", "-o", "b.png"],
        "--force",
    ),
    ("missing file", {}, ["train", "nope.csv"], "no such file"),
    ("empty file", {"d.csv": b""}, ["train", "d.csv"], "is empty"),
    ("header only", {"d.csv": HEADER}, ["train", "d.csv"], "no data rows"),
    ("ragged rows", {"d.csv": b"a,b\n1,2\n3,4,5\n6,7\n"}, ["train", "d.csv"], "well-formed"),
    ("binary garbage", {"d.csv": bytes(range(256)) * 8}, ["train", "d.csv"], "not a text file"),
    (
        "wrong delimiter",
        {"d.csv": W.replace(b",", b";")},
        ["train", "d.csv", "--sep", ","],
        "--sep ';'",
    ),
    (
        "text in a numeric column",
        {"d.csv": _frame_bytes(_set("alcohol", "n/a?"))},
        ["train", "d.csv"],
        "'alcohol'",
    ),
    ("all-NaN column", {"d.csv": _frame_bytes(_all_nan)}, ["train", "d.csv"], "'ash'"),
    ("one row", {"d.csv": HEADER + W.split(b"\n")[1]}, ["train", "d.csv"], "at least 2 rows"),
    ("unknown extension", {"d.xlsx": W}, ["train", "d.xlsx"], "unknown file type"),
    ("folder without data", {"sub/x.json": W}, ["train", "sub"], "holds no images"),
    ("latent dim zero", {"d.csv": W}, ["train", "d.csv", "-k", "0"], "--latent-dim"),
    ("negative epochs", {"d.csv": W}, ["train", "d.csv", "--epochs", "-5"], "--epochs"),
    ("negative lr", {"d.csv": W}, ["train", "d.csv", "--lr", "-1"], "--lr"),
    (
        "components with kde",
        {"d.csv": W},
        ["train", "d.csv", "--code-density", "kde", "--components", "4"],
        "--components",
    ),
    ("nan lr", {"d.csv": W}, ["train", "d.csv", "--lr", "nan"], "--lr"),
    ("absurd lr", {"d.csv": W}, ["train", "d.csv", "--lr", "1e9"], "--lr"),
    ("val fraction > 1", {"d.csv": W}, ["train", "d.csv", "--val-fraction", "2"], "--val-fraction"),
    ("zero batch size", {"d.csv": W}, ["train", "d.csv", "--batch-size", "0"], "--batch-size"),
    ("bad hidden", {"d.csv": W}, ["train", "d.csv", "--hidden", "wide"], "--hidden"),
    ("unknown kind", {"d.csv": W}, ["train", "d.csv", "--kind", "magic"], "--kind"),
    ("unknown activation", {"d.csv": W}, ["train", "d.csv", "--activation", "x"], "--activation"),
    ("bad noise", {"d.csv": W}, ["train", "d.csv", "--noise", "pink:1"], "--noise"),
    ("drop unknown column", {"d.csv": W}, ["train", "d.csv", "--drop", "zz"], "zz"),
    ("output equals input", {"d.csv": W}, ["train", "d.csv", "-o", "d.csv"], "same file"),
    (
        "output exists",
        {"d.csv": W, "o.safetensors": b"x"},
        ["train", "d.csv", "-o", "o.safetensors"],
        "--force",
    ),
    (
        "output under a file",
        {"d.csv": W},
        ["train", "d.csv", "-o", "d.csv/o.safetensors"],
        "is a file, not a folder",
    ),
    ("unknown option", {"d.csv": W}, ["train", "d.csv", "--frobnicate"], "--frobnicate"),
    ("empty stdin", {}, ["train", "-", "-o", "m.safetensors"], "stdin is empty"),
    (
        "missing checkpoint",
        {"d.csv": W},
        ["encode", "none.safetensors", "d.csv"],
        "no such checkpoint",
    ),
    ("csv as checkpoint", {"d.csv": W}, ["encode", "d.csv", "d.csv"], "safetensors"),
    (
        "wrong column set",
        {"d.csv": _frame_bytes(lambda f: f.drop(columns=["hue"]))},
        ["encode", "{model}", "d.csv"],
        "'hue'",
    ),
    (
        "infinite value",
        {"d.csv": _frame_bytes(_set("hue", "inf"))},
        ["encode", "{model}", "d.csv"],
        "infinite",
    ),
    (
        "encode output equals input",
        {"d.csv": W},
        ["encode", "{model}", "d.csv", "-o", "d.csv"],
        "same file",
    ),
    (
        "encode over the model",
        {"d.csv": W},
        ["encode", "{model}", "d.csv", "-o", "model.safetensors"],
        "same file",
    ),
    ("keep unknown column", {"d.csv": W}, ["encode", "{model}", "d.csv", "--keep", "id"], "--keep"),
    ("json with stdout data", {"d.csv": W}, ["encode", "{model}", "d.csv", "--json"], "--json"),
    (
        "codes of the wrong width",
        {"c.csv": b"z1,z2\n0.1,0.2\n"},
        ["decode", "{model}", "c.csv"],
        "z3",
    ),
    (
        "non-numeric codes",
        {"c.csv": b"z1,z2,z3\na,b,c\n"},
        ["decode", "{model}", "c.csv"],
        "numbers",
    ),
    ("codes with holes", {"c.csv": b"z1,z2,z3\n1,,3\n"}, ["decode", "{model}", "c.csv"], "missing"),
    (
        "inspect garbage",
        {"g.safetensors": b"\x00" * 100},
        ["inspect", "g.safetensors"],
        "safetensors",
    ),
]


def _truncated(folder: Path, model: Path) -> None:
    data = model.read_bytes()
    (folder / "t.safetensors").write_bytes(data[: len(data) // 2])


def _tampered(folder: Path, model: Path) -> None:
    rewrite_metadata(
        model, folder / "t.safetensors", lambda m: m["architecture"].update(latent_dim=4)
    )


def _newer(folder: Path, model: Path) -> None:
    rewrite_metadata(model, folder / "t.safetensors", lambda m: m.update(format_version=99))


def _not_json(folder: Path, model: Path) -> None:
    save_file(load_file(str(model)), str(folder / "t.safetensors"), metadata={"aecli": "{oops"})


def _negative_scale(folder: Path, model: Path) -> None:
    rewrite_metadata(
        model, folder / "t.safetensors", lambda m: m["schema"]["columns"][0].update(scale=-1.0)
    )


CHECKPOINT_CASES = [
    ("truncated checkpoint", _truncated, "truncated"),
    ("tampered metadata", _tampered, "do not match"),
    ("newer format version", _newer, "upgrade aecli"),
    ("metadata not JSON", _not_json, "not valid JSON"),
    ("negative scale", _negative_scale, "malformed"),
]


def _check(result, folder: Path, before: dict[str, str], message: str) -> None:
    assert result.exit_code == 2, (result.exit_code, result.stderr, result.stdout)
    assert message.lower() in result.stderr.lower(), result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert snapshot(folder) == before


@pytest.mark.parametrize(
    ("files", "argv", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input(tmp_path, runner, shared_model, monkeypatch, files, argv, message):
    monkeypatch.chdir(tmp_path)
    shutil.copy(shared_model, tmp_path / "model.safetensors")
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(content)
    before = snapshot(tmp_path)
    args = [a.replace("{model}", "model.safetensors") for a in argv]
    if args[0] == "train":  # quick settings first, so the case's own options win
        args = [args[0], *FAST, *args[1:]]
    result = invoke(runner, *args, input=b"")
    _check(result, tmp_path, before, message)


@pytest.mark.parametrize(
    ("make", "message"), [c[1:] for c in CHECKPOINT_CASES], ids=[c[0] for c in CHECKPOINT_CASES]
)
@pytest.mark.parametrize("command", ["encode", "inspect"])
def test_bad_checkpoint(tmp_path, runner, shared_model, monkeypatch, make, message, command):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.csv").write_bytes(W)
    make(tmp_path, shared_model)
    before = snapshot(tmp_path)
    args = (
        ["encode", "t.safetensors", "d.csv", "-o", "z.csv"]
        if command == "encode"
        else ["inspect", "t.safetensors"]
    )
    _check(invoke(runner, *args), tmp_path, before, message)


@pytest.mark.parametrize(
    ("hidden", "message"), [([10**9], "1000000000"), ([100_000, 100_000, 100_000], "parameters")]
)
def test_huge_declared_layers_are_refused_fast_without_allocating(
    tmp_path, runner, shared_model, hidden, message
):
    crafted = tmp_path / "huge.safetensors"
    rewrite_metadata(shared_model, crafted, lambda m: m["architecture"].update(hidden=hidden))
    started = time.perf_counter()
    result = invoke(runner, "inspect", crafted)
    assert time.perf_counter() - started < 1.0
    assert result.exit_code == 2 and message in result.stderr


def test_internal_error_is_one_line_and_debug_shows_the_traceback(tmp_path, runner, monkeypatch):
    import aecli.api

    def boom(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(aecli.api, "load", boom)
    (tmp_path / "d.csv").write_bytes(W)
    result = invoke(runner, "encode", tmp_path / "m.safetensors", tmp_path / "d.csv")
    assert result.exit_code == 1
    assert "simulated bug" in result.stderr and "--debug" in result.stderr
    assert "Traceback" not in result.stderr
    result = invoke(runner, "encode", tmp_path / "m.safetensors", tmp_path / "d.csv", "--debug")
    assert result.exit_code == 1 and "Traceback" in result.stderr


def test_nan_loss_stops_with_advice_and_saves_nothing(tmp_path, runner, monkeypatch):
    import torch

    from aecli.parts.objective import Objective

    original = Objective.__call__

    def poisoned(self, net, x, gen):
        terms = original(self, net, x, gen)
        terms.loss = terms.loss * torch.tensor(float("nan"))
        return terms

    monkeypatch.setattr(Objective, "__call__", poisoned)
    (tmp_path / "d.csv").write_bytes(W)
    result = invoke(runner, "train", tmp_path / "d.csv", "-o", tmp_path / "m.safetensors", *FAST)
    assert result.exit_code == 2 and "--lr" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv"]
