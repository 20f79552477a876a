"""Images through the CLI: train on a folder, encode to a CSV with a path column, decode and sample
to PNGs, denoise images of any size; every kind on images; names never leave --out-dir."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from aecli.cli import app
from aecli.data.image_files import output_names
from aecli.data.tiling import denoise_tiled, tile_starts
from aecli.errors import DataError
from aecli.models.photo import psnr
from aecli.parts.corruption import Corruption
from conftest import SAMPLE, invoke, same_checkpoint

MNIST = sorted((SAMPLE / "mnist").glob("*.png"))
TINY = ["--steps", "40", "--conv", "4,8", "--threads", "1", "--quiet"]


def _digits(folder: Path, count: int, start: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in MNIST[start : start + count]:
        shutil.copy(src, folder / src.name)
    return folder


@pytest.fixture(scope="module")
def dae(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A denoising model of 28 x 28 digits, trained once for this module (blind to the level)."""
    folder = tmp_path_factory.mktemp("dae")
    data = _digits(folder / "digits", 300)
    model = folder / "dae.safetensors"
    result = CliRunner().invoke(
        app,
        [
            "train",
            str(data),
            "-o",
            str(model),
            "--kind",
            "denoising",
            "--noise",
            "gaussian:0-100",
            "--steps",
            "250",
            "--conv",
            "8,16",
            "--threads",
            "1",
            "--quiet",
        ],
    )
    assert result.exit_code == 0, result.output
    return model


def _gray(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path), np.float64) / 255


def test_a_folder_trains_encodes_decodes_and_samples_through_the_cli(
    tmp_path: Path, runner: CliRunner, dae: Path
) -> None:
    data = _digits(tmp_path / "digits", 12, start=400)
    codes = tmp_path / "codes.csv"
    result = invoke(runner, "encode", dae, data, "-o", codes)
    assert result.exit_code == 0, result.stderr
    frame = pd.read_csv(codes)
    assert list(frame.columns) == ["path"] + [f"z{i}" for i in range(1, 17)]
    assert frame["path"].tolist() == [p.as_posix() for p in sorted(data.glob("*.png"))]

    result = invoke(runner, "decode", dae, codes, "--out-dir", tmp_path / "recon")
    assert result.exit_code == 0, result.stderr
    decoded = sorted(p.name for p in (tmp_path / "recon").iterdir())
    assert decoded == sorted(p.name for p in data.iterdir())
    first = Image.open(tmp_path / "recon" / decoded[0])
    assert (first.size, first.mode, first.format) == ((28, 28), "L", "PNG")
    # the reconstruction resembles its own input more than another row's
    recon = _gray(tmp_path / "recon" / decoded[0])
    own, other = (np.mean((recon - _gray(data / n)) ** 2) for n in decoded[:2])
    assert own < other

    result = invoke(
        runner, "sample", dae, "-n", "6", "--out-dir", tmp_path / "s", "--grid", tmp_path / "g.png"
    )
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        f"sample-{i:04d}.png" for i in range(1, 7)
    ]
    assert Image.open(tmp_path / "g.png").size == (3 * 28 + 2 * 2, 2 * 28 + 2)
    shown = invoke(runner, "inspect", dae)
    assert shown.exit_code == 0 and "28x28" in shown.stdout and "whole images" in shown.stdout
    again = invoke(runner, "sample", dae, "-n", "6", "--out-dir", tmp_path / "s2")
    assert again.exit_code == 0
    same = [(tmp_path / d / "sample-0003.png").read_bytes() for d in ("s", "s2")]
    assert same[0] == same[1]  # the same seed gives the same images


def test_a_patch_denoiser_cleans_an_unseen_image_of_another_size(
    tmp_path: Path, runner: CliRunner
) -> None:
    """Trained on 16 x 16 crops of the sample photo (astronaut), blind to the noise level; it
    cleans a 60 x 90 crop of another picture (scikit-image's camera) tile by tile."""
    from skimage import data

    model = tmp_path / "patches.safetensors"
    options = ["--patch", "16", "--kind", "denoising", "--noise", "gaussian:0-60", "-k", "32"]
    options += ["--steps", "400", "--conv", "16,32", "--threads", "1", "--quiet"]
    result = invoke(runner, "train", SAMPLE / "astronaut.png", "-o", model, *options)
    assert result.exit_code == 0, result.stderr
    clean = data.camera()[100:160, 150:240].astype(np.float64) / 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 50 / 255, clean.shape), 0, 1)
    Image.fromarray(np.rint(noisy * 255).astype(np.uint8)).save(tmp_path / "noisy.png")
    result = invoke(runner, "denoise", model, tmp_path / "noisy.png", "-o", tmp_path / "clean.png")
    assert result.exit_code == 0, result.stderr
    out = Image.open(tmp_path / "clean.png")
    assert (out.size, out.mode, out.format) == ((90, 60), "L", "PNG")
    before = psnr(clean, _gray(tmp_path / "noisy.png"))
    after = psnr(clean, _gray(tmp_path / "clean.png"))
    assert after > before + 4, (before, after)  # measured: 15.6 -> 23.0 dB


def test_a_folder_is_denoised_into_out_dir_with_the_same_names(
    tmp_path: Path, runner: CliRunner, dae: Path
) -> None:
    data = _digits(tmp_path / "scans", 3, start=460)
    result = invoke(runner, "denoise", dae, data, "--out-dir", tmp_path / "cleaned")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "cleaned").iterdir()) == sorted(
        p.name for p in data.iterdir()
    )
    again = invoke(runner, "denoise", dae, data, "--out-dir", tmp_path / "cleaned")
    assert again.exit_code == 2 and "--force" in again.stderr


@pytest.mark.parametrize("kind", ["undercomplete", "linear", "sparse", "contractive", "vae"])
def test_every_kind_trains_on_images(tmp_path: Path, runner: CliRunner, kind: str) -> None:
    data = _digits(tmp_path / "digits", 40)
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", data, "-o", model, "--kind", kind, "-k", "4", *TINY)
    assert result.exit_code == 0, result.stderr
    result = invoke(runner, "encode", model, data, "-o", tmp_path / "codes.csv")
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(tmp_path / "codes.csv")) == 40
    result = invoke(runner, "decode", model, tmp_path / "codes.csv", "--out-dir", tmp_path / "r")
    assert result.exit_code == 0, result.stderr
    assert len(list((tmp_path / "r").iterdir())) == 40


def _blobs(folder: Path, count: int, size: tuple[int, int] = (16, 12)) -> Path:
    """Small colour images (a coloured square on a dark field) of width x height `size`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    for i in range(count):
        a = np.zeros((size[1], size[0], 3), np.uint8)
        y, x = rng.integers(0, size[1] - 5), rng.integers(0, size[0] - 5)
        a[y : y + 5, x : x + 5] = rng.integers(60, 255, 3)
        Image.fromarray(a).save(folder / f"b{i:02d}.png")
    return folder


def test_colour_is_kept_or_dropped_by_channels_and_size_is_set_by_image_size(
    tmp_path: Path, runner: CliRunner
) -> None:
    data = _blobs(tmp_path / "blobs", 20)
    Image.new("RGB", (30, 30), (200, 10, 10)).save(data / "odd.png")  # another size: resized
    rgb = tmp_path / "rgb.safetensors"
    result = invoke(runner, "train", data, "-o", rgb, *TINY[:-1])
    assert result.exit_code == 0, result.stderr
    assert "1 of 21 images are not 12x16" in result.stderr
    invoke(runner, "sample", rgb, "-n", "2", "--out-dir", tmp_path / "a")
    assert Image.open(tmp_path / "a" / "sample-0001.png").mode == "RGB"
    assert Image.open(tmp_path / "a" / "sample-0001.png").size == (16, 12)

    gray = tmp_path / "gray.safetensors"
    options = ["--channels", "1", "--image-size", "8x10"]
    result = invoke(runner, "train", data, "-o", gray, *options, *TINY)
    assert result.exit_code == 0, result.stderr
    invoke(runner, "sample", gray, "-n", "2", "--out-dir", tmp_path / "b")
    sample = Image.open(tmp_path / "b" / "sample-0001.png")
    assert (sample.mode, sample.size) == ("L", (10, 8))
    # a grayscale model cleans a colour image channel by channel and keeps it RGB
    result = invoke(runner, "denoise", gray, data / "b00.png", "-o", tmp_path / "c.png")
    assert result.exit_code == 0, result.stderr
    assert Image.open(tmp_path / "c.png").mode == "RGB"


def test_the_same_images_options_and_seed_give_the_same_checkpoint(
    tmp_path: Path, runner: CliRunner
) -> None:
    data = _digits(tmp_path / "digits", 20)
    for name in ("a", "b"):
        result = invoke(runner, "train", data, "-o", tmp_path / f"{name}.safetensors", *TINY)
        assert result.exit_code == 0, result.stderr
    assert same_checkpoint(tmp_path / "a.safetensors", tmp_path / "b.safetensors")


def test_decoded_names_never_leave_the_output_folder(tmp_path: Path, runner: CliRunner, dae):
    codes = pd.DataFrame(np.zeros((3, 16)), columns=[f"z{i}" for i in range(1, 17)])
    codes.insert(0, "path", ["../../evil.png", "/etc/passwd", "C:/x/../ok.jpg"])
    codes.to_csv(tmp_path / "codes.csv", index=False)
    out = tmp_path / "deep" / "out"
    result = invoke(runner, "decode", dae, tmp_path / "codes.csv", "--out-dir", out)
    assert result.exit_code == 0, result.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.png"))
    assert written == ["deep/out/etc/passwd.png", "deep/out/evil.png", "deep/out/x/ok.png"]
    assert not Path("/etc/passwd.png").exists()

    codes["path"] = ["a/x.png", "b/x.png", "c/y.png"]  # same names in other folders: kept apart
    assert output_names(codes["path"].tolist(), 3) == ["a/x.png", "b/x.png", "c/y.png"]
    codes["path"] = ["x.png", "x.png", "y.png"]
    codes.to_csv(tmp_path / "dupes.csv", index=False)
    result = invoke(runner, "decode", dae, tmp_path / "dupes.csv", "--out-dir", tmp_path / "o2")
    assert result.exit_code == 2 and "more than once" in result.stderr
    assert output_names([], 3) == ["000001.png", "000002.png", "000003.png"]
    for bad in ("..", "a/\x00b.png", "/"):
        with pytest.raises(DataError, match="unusable"):
            output_names(["ok.png", bad], 2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["encode", "{dae}", "{csv}"], "trained on images"),
        (["encode", "{table}", "{folder}"], "trained on a table"),
        (["decode", "{dae}", "{codes}", "-o", "x.csv"], "--out-dir"),
        (["decode", "{dae}", "{codes}"], "--out-dir"),
        (["sample", "{dae}", "--grid", "g.jpg"], "PNG"),
        (["sample", "{dae}", "-o", "x.csv"], "--out-dir"),
        (["sample", "{table}", "--out-dir", "s"], "image models"),
        (["train", "{empty}", "-o", "m.safetensors"], "holds no images"),
        (["train", "{folder}", "-o", "m.safetensors", "--channels", "2"], "--channels"),
        (["train", "{folder}", "-o", "m.safetensors", "--image-size", "28by28"], "--image-size"),
        (["train", "{folder}", "-o", "m.safetensors", "--noise", "gaussian:50-10"], "--noise"),
        (["train", "{folder}", "-o", "m.safetensors", "--conv", "8,x"], "--conv"),
        (["train", "digits/*.png"], "-o FILE"),
        (["denoise", "{dae}", "{folder}"], "--out-dir"),
        (["encode", "photo", "{folder}"], "aecli denoise MODEL IMAGES"),
    ],
)
def test_image_mistakes_get_one_line_and_exit_2(
    tmp_path: Path, runner: CliRunner, dae: Path, shared_model: Path, args, message, monkeypatch
) -> None:
    folder = _digits(tmp_path / "digits", 3)
    (tmp_path / "empty").mkdir()
    pd.DataFrame({"z1": [0.0]}).to_csv(tmp_path / "codes.csv", index=False)
    names = {
        "{dae}": dae,
        "{table}": shared_model,
        "{csv}": SAMPLE / "wine.csv",
        "{folder}": folder,
        "{empty}": tmp_path / "empty",
        "{codes}": tmp_path / "codes.csv",
    }
    argv = [str(names.get(a, a)) for a in args]
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = invoke(runner, *argv)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == sorted([*before, Path("work")])


def test_noise_ranges_draw_one_level_per_row_on_the_0_255_scale() -> None:
    x = torch.zeros(400, 2000)
    corrupt = Corruption("gaussian:10-50", torch.zeros(2000), torch.ones(2000), unit=255.0)
    sd = corrupt(x, torch.Generator().manual_seed(0)).std(dim=1) * 255
    assert sd.min() > 9 and sd.max() < 51
    assert sd.std() > 8  # levels spread over the range (uniform on [10, 50]: sd 11.5)
    fixed = Corruption("gaussian:25", torch.zeros(2000), torch.ones(2000), unit=255.0)
    sd = fixed(x, torch.Generator().manual_seed(0)).std(dim=1) * 255
    assert abs(float(sd.mean()) - 25) < 0.5


@pytest.mark.parametrize(("height", "width"), [(28, 28), (20, 33), (57, 90), (5, 7)])
def test_blended_tiles_reproduce_a_pointwise_model_exactly(height: int, width: int) -> None:
    image = np.random.default_rng(0).random((height, width, 2)).astype(np.float32)
    out = denoise_tiled(image, (16, 16), lambda tiles: tiles * 2.0)
    assert out.shape == image.shape
    np.testing.assert_allclose(out, image * 2.0, rtol=1e-5, atol=1e-6)
    for length, tile in ((100, 28), (28, 28), (29, 28)):
        starts = tile_starts(length, tile)
        assert starts[0] == 0 and starts[-1] == max(0, length - tile)
        assert all(b - a <= tile // 2 + 1 for a, b in itertools.pairwise(starts))


def test_an_interrupted_image_run_resumes_to_the_uninterrupted_weights(tmp_path: Path) -> None:
    import aecli
    from aecli.errors import TrainingInterrupted

    data = _digits(tmp_path / "digits", 40)
    options = {"kind": "denoising", "noise": "gaussian:0-80", "conv": (4, 8), "latent_dim": 4}
    options |= {"epochs": 6, "batch_size": 8, "patience": 0, "threads": 1}
    reference = aecli.train(data, **options)
    batches = iter(range(1000))
    progress = tmp_path / "m.resume.safetensors"
    with pytest.raises(TrainingInterrupted):
        aecli.train(
            data, should_stop=lambda: next(batches) == 12, progress_path=progress, **options
        )
    resumed = aecli.train(data, resume=progress)
    a, b = reference.net.state_dict(), resumed.net.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_denoiser_of_whole_large_images_gets_a_patch_hint(tmp_path: Path, runner: CliRunner):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("astronaut.png", "astronaut-noisy.png"):
        shutil.copy(SAMPLE / name, data / name)
    options = ["--kind", "denoising", "--steps", "2", "--conv", "4", "-k", "2", "--threads", "1"]
    result = invoke(runner, "train", data, "-o", tmp_path / "m.safetensors", *options)
    assert result.exit_code == 0, result.stderr
    assert "--patch 16" in result.stderr


def test_encoding_reads_images_block_by_block_with_the_same_codes(dae: Path, monkeypatch) -> None:
    import aecli
    from aecli.data import adapter, images

    net = aecli.load(dae)
    whole = net.encode(SAMPLE / "mnist" / "00*.png")
    loaded: list[int] = []
    original = images.ImageAdapter.load

    def counting(self, files):
        loaded.append(len(files))
        return original(self, files)

    monkeypatch.setattr(images.ImageAdapter, "load", counting)
    monkeypatch.setattr(adapter, "BLOCK_VALUES", 3 * 784)  # three images per block
    blocks = net.encode(SAMPLE / "mnist" / "00*.png")
    assert max(loaded) == 3 and sum(loaded) == len(whole) == 100
    assert blocks["path"].tolist() == whole["path"].tolist()
    np.testing.assert_allclose(blocks.iloc[:, 1:], whole.iloc[:, 1:], rtol=1e-4, atol=1e-5)
