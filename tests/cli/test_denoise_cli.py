"""`aecli denoise`: a table's missing cells filled and nothing else touched; photos cleaned with
the built-in model, one file or a folder."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PIL import Image

from conftest import SAMPLE, invoke


def holey_wine(tmp_path):
    frame = pd.read_csv(SAMPLE / "wine.csv")
    frame.insert(0, "id", [f"w{i:03d}" for i in range(len(frame))])
    frame["magnesium"] = frame["magnesium"].astype(int)
    hide = np.random.default_rng(0).random(frame.shape) < 0.15
    hide[:, 0] = False
    path = tmp_path / "holes.csv"
    frame.mask(hide).to_csv(path, index=False)
    return frame, hide, path


def test_table_denoise_fills_only_missing_cells(tmp_path, runner):
    frame, hide, path = holey_wine(tmp_path)
    model = tmp_path / "m.safetensors"
    trained = invoke(
        runner, "train", SAMPLE / "wine.csv", "-k", "4", "-o", model, "--steps", "400", "-q"
    )
    assert trained.exit_code == 0, trained.stderr
    out, mask = tmp_path / "repaired.csv", tmp_path / "mask.csv"
    result = invoke(runner, "denoise", model, path, "-o", out, "--mask-out", mask)
    assert result.exit_code == 0, result.stderr
    repaired = pd.read_csv(out)
    assert list(repaired.columns) == list(frame.columns)
    assert repaired["id"].tolist() == frame["id"].tolist()
    assert not repaired.isna().any().any()
    numeric = frame.columns[1:]
    present = ~hide[:, 1:]
    assert np.array_equal(repaired[numeric].to_numpy()[present], frame[numeric].to_numpy()[present])
    # the filled cells are closer to the truth than the column means are
    truth, guess = frame[numeric].to_numpy()[~present], repaired[numeric].to_numpy()[~present]
    means = np.broadcast_to(frame[numeric].mean().to_numpy(), present.shape)[~present]
    spread = np.broadcast_to(frame[numeric].std().to_numpy(), present.shape)[~present]
    assert np.mean(((guess - truth) / spread) ** 2) < np.mean(((means - truth) / spread) ** 2)
    assert np.array_equal(pd.read_csv(mask).to_numpy().astype(bool), hide[:, 1:])
    everything = invoke(runner, "denoise", model, path, "--all")
    replaced = pd.read_csv(__import__("io").StringIO(everything.stdout))
    assert (replaced[numeric].to_numpy()[present] != frame[numeric].to_numpy()[present]).any()


def noisy_png(path, size, mode):
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0 : size[1], 0 : size[0]]
    clean = 0.5 + 0.3 * np.sin(xx / 7.0) * np.cos(yy / 9.0)
    noisy = np.clip(clean + rng.normal(0, 25 / 255, clean.shape), 0, 1)
    img = Image.fromarray((noisy * 255).astype(np.uint8), "L").convert(mode)
    img.save(path)
    return clean


def test_photo_denoise_one_file_and_a_folder(tmp_path, runner):
    folder = tmp_path / "scans"
    folder.mkdir()
    noisy_png(folder / "a.png", (70, 50), "L")
    noisy_png(folder / "b.png", (40, 64), "RGB")
    single = invoke(runner, "denoise", "photo", folder / "a.png", "-o", tmp_path / "a-clean.png")
    assert single.exit_code == 0, single.stderr
    with Image.open(tmp_path / "a-clean.png") as img:
        assert img.size == (70, 50) and img.mode == "L"
    batch = invoke(runner, "denoise", "photo", folder, "--out-dir", tmp_path / "clean")
    assert batch.exit_code == 0, batch.stderr
    with Image.open(tmp_path / "clean" / "b.png") as img:
        assert img.size == (40, 64) and img.mode == "RGB"
    again = invoke(runner, "denoise", "photo", folder, "--out-dir", tmp_path / "clean")
    assert again.exit_code == 2 and "--force" in again.stderr
    no_dir = invoke(runner, "denoise", "photo", folder)
    assert no_dir.exit_code == 2 and "--out-dir" in no_dir.stderr
