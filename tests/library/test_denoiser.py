"""The `denoiser` kind: the residual network trained by the one loop on crops of images of any
size, clean targets or blind-spot (self-supervised), fine-tuned from the built-in photo model,
saved as an ordinary checkpoint, used by `denoise` at any size and refused by the code verbs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import aecli
from aecli.errors import UserError
from aecli.models.photo import psnr
from conftest import FIXTURES, SAMPLE, invoke

TINY = dict(patch=32, width=16, depth=2, threads=1, seed=0)
SIGMA = 25 / 255


def _camera() -> np.ndarray:
    from skimage import data

    return data.camera().astype(np.float32) / 255


def _noisy(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, SIGMA, clean.shape)
    return np.clip(clean + noise, 0, 1).astype(np.float32)


def _save(array: np.ndarray, path: Path) -> Path:
    Image.fromarray(np.rint(np.clip(array, 0, 1) * 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three clean 96 x 96 grayscale crops of camera, plus one 70 x 50 (sizes differ)."""
    folder = tmp_path_factory.mktemp("clean")
    camera = _camera()
    for i, (y, x) in enumerate([(0, 0), (200, 250), (300, 100)]):
        _save(camera[y : y + 96, x : x + 96], folder / f"c{i}.png")
    _save(camera[400:470, 300:350], folder / "small.png")
    return folder


@pytest.fixture(scope="module")
def trained(crops: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = aecli.train(crops, kind="denoiser", steps=60, **TINY)
    return model.save(tmp_path_factory.mktemp("model") / "denoiser.safetensors")


def _coins() -> tuple[np.ndarray, np.ndarray]:
    from skimage import data

    clean = data.coins()[50:131, 100:191].astype(np.float32) / 255  # odd sizes, unseen
    return clean, _noisy(clean)


def test_a_denoiser_trained_on_clean_crops_cleans_an_unseen_image_of_another_size(trained):
    model = aecli.load(trained)
    assert model.kind == "denoiser" and model.is_denoiser
    assert model.architecture.residual == {
        "blocks": 2,
        "channels": 16,
        "scale": 2,
        "colour": "opponent",
    }
    assert model.metrics["baseline"] == "input" and model.metrics["ratio_to_pca"] < 0.6
    clean, noisy = _coins()
    out = model.denoise_image(noisy[..., None])[..., 0]
    assert out.shape == clean.shape
    assert psnr(clean, out) > psnr(clean, noisy) + 2  # measured 20.2 -> 22.5 dB


def test_the_checkpoint_is_ordinary_deterministic_and_loads_to_the_same_output(crops, trained):
    from aecli.store.checkpoint import read_format

    assert read_format(trained) == "aecli"
    again = aecli.train(crops, kind="denoiser", steps=60, **TINY)
    loaded = aecli.load(trained)
    pairs = zip(again.net.state_dict().values(), loaded.net.state_dict().values(), strict=True)
    for a, b in pairs:
        assert torch.equal(a, b)  # same data, options and seed: the same weights
    noisy = _coins()[1][..., None]
    np.testing.assert_array_equal(again.denoise_image(noisy), loaded.denoise_image(noisy))


@pytest.mark.parametrize("verb", ["encode", "decode", "sample", "score", "report"])
def test_the_code_verbs_refuse_a_denoiser_in_one_line(trained, crops, runner, tmp_path, verb):
    codes = tmp_path / "codes.csv"
    codes.write_text("z1\n0.5\n")
    args = {
        "encode": [crops],
        "decode": [codes, "--out-dir", tmp_path / "out"],
        "sample": ["--out-dir", tmp_path / "out"],
        "score": [crops],
        "report": [crops, "-o", tmp_path / "r.html"],
    }[verb]
    for model in (trained, "photo"):
        result = invoke(runner, verb, model, *args)
        assert result.exit_code == 2, result.stderr
        assert "denoiser" in result.stderr and "aecli denoise" in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and not result.stdout


def test_the_cli_trains_a_colour_denoiser_and_denoises_any_size(runner, tmp_path):
    noisy = np.asarray(Image.open(SAMPLE / "astronaut-noisy.png"), np.float32) / 255
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.open(SAMPLE / "astronaut.png").crop((0, 0, 120, 100)).save(folder / "a.png")
    model = tmp_path / "colour.safetensors"
    args = ["--kind", "denoiser", "--patch", "16", "--width", "8", "--depth", "1"]
    args += ["--colour", "channels", "--steps", "20", "--quiet"]
    result = invoke(runner, "train", folder, "-o", model, *args)
    assert result.exit_code == 0, result.stderr
    assert aecli.load(model).architecture.residual["colour"] == "channels"
    _save(noisy[:77, :53], tmp_path / "in.png")  # RGB
    out = tmp_path / "out.png"
    result = invoke(runner, "denoise", model, tmp_path / "in.png", "-o", out)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert (image.size, image.mode) == ((53, 77), "RGB")


def test_train_report_of_a_denoiser_shows_its_training(crops, runner, tmp_path):
    report = tmp_path / "r.html"
    args = ["--kind", "denoiser", "--patch", "16", "--width", "4", "--depth", "1", "--steps", "8"]
    model = tmp_path / "m.safetensors"
    result = invoke(runner, "train", crops, "-o", model, *args, "--report", report, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert "A denoiser of images" in report.read_text()


def test_fine_tuning_from_photo_keeps_its_network_and_stays_good(crops):
    model = aecli.train(crops, kind="denoiser", init="photo", steps=16, patch=32, seed=0)
    photo = aecli.load("photo")
    assert model.architecture.residual == photo.architecture.residual  # its width and depth
    assert model.options.lr == 3e-4  # fine-tuning takes smaller steps than training afresh
    clean, noisy = _coins()
    out = model.denoise_image(noisy[..., None])[..., 0]
    assert psnr(clean, out) > psnr(clean, noisy) + 7  # measured 20.2 -> 29.1 dB
    with pytest.raises(UserError, match="--width 8 differs"):
        aecli.train(crops, kind="denoiser", init="photo", width=8, steps=4, patch=32)


@pytest.mark.parametrize("method", [None, "blind-spot"])  # None: neighbor2neighbor
def test_self_supervised_training_learns_from_noisy_images_alone(tmp_path, method):
    folder = tmp_path / "noisy"
    folder.mkdir()
    camera = _camera()
    for i in range(3):
        _save(_noisy(camera[i * 100 : i * 100 + 96, 50:146], seed=i), folder / f"n{i}.png")
    options = dict(self_supervised=True, self_supervised_method=method, steps=150, **TINY)
    model = aecli.train(folder, kind="denoiser", **options)
    assert model.options.noise is None and model.options.self_supervised
    assert model.options.self_supervised_method == (method or "neighbor2neighbor")
    clean, noisy = _coins()
    out = model.denoise_image(noisy[..., None])[..., 0]
    gain = psnr(clean, out) - psnr(clean, noisy)
    assert gain > 2  # measured from 20.2 dB: neighbor2neighbor +3.4, blind-spot +3.0


def test_neighbor2neighbor_pairs_adjacent_pixels_of_each_cell_in_every_channel():
    from aecli.parts.neighbor2neighbor import pair_cells, pair_loss, sub_sample

    rows, cols = torch.meshgrid(torch.arange(8.0), torch.arange(12.0), indexing="ij")
    images = torch.stack([rows, cols, rows * 100 + cols])[None].repeat(2, 1, 1, 1)  # (2, 3, 8, 12)
    first, second = pair_cells(images, torch.Generator().manual_seed(0))
    a, b = sub_sample(images, first), sub_sample(images, second)
    assert a.shape == b.shape == (2, 3, 4, 6)
    # every channel picks the same pixel; each pixel lies in its own 2 x 2 cell
    assert torch.equal(a[:, 2], a[:, 0] * 100 + a[:, 1])
    assert torch.equal(b[:, 2], b[:, 0] * 100 + b[:, 1])
    cell_rows, cell_cols = torch.meshgrid(torch.arange(4.0), torch.arange(6.0), indexing="ij")
    for image in (a, b):
        assert torch.equal(image[:, 0] // 2, cell_rows.expand(2, 4, 6))
        assert torch.equal(image[:, 1] // 2, cell_cols.expand(2, 4, 6))
    # the two are different, adjacent pixels (one step across or down)
    steps = (a[:, 0] - b[:, 0]).abs() + (a[:, 1] - b[:, 1]).abs()
    assert torch.equal(steps, torch.ones_like(steps))
    assert pair_loss(a, a, b, b, 2.0) == 0
    assert torch.isclose(pair_loss(a + 1, a, b, b, 2.0), torch.tensor(3.0))  # 1 + 2 x 1


class _Fixed(torch.nn.Module):
    """A stand-in network on 32 x 32 crops: `identity` changes nothing, else it returns grey."""

    def __init__(self, identity: bool) -> None:
        super().__init__()
        self.identity = identity

    def images(self, rows: torch.Tensor) -> torch.Tensor:
        return rows.reshape(-1, 1, 32, 32)

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        return images if self.identity else torch.full_like(images, 0.5)


def test_neighbor2neighbor_validation_loss_ranks_a_denoiser_above_the_noisy_input():
    """Evaluated (validation, the kept epoch), the loss is the pair term alone: lower for the
    perfect denoiser of a grey image than for the network that changes nothing (sigma^2 against
    2 sigma^2). The training loss, with its regulariser, ranks them the other way round
    (3 sigma^2 against 2 sigma^2): as the validation loss, it made a run keep its first epoch."""
    from aecli.parts.denoiser_objective import DenoiserObjective

    objective = DenoiserObjective(None, "neighbor2neighbor")
    grey = torch.full((64, 32 * 32), 0.5)
    rows = grey + SIGMA * torch.randn(grey.shape, generator=torch.Generator().manual_seed(0))
    losses = {}
    for identity in (True, False):
        for training in (True, False):
            net = _Fixed(identity).train(training)
            loss = objective(net, rows, torch.Generator().manual_seed(1)).loss
            losses[identity, training] = float(loss) / SIGMA**2
    assert losses[False, False] == pytest.approx(1, rel=0.05)
    assert losses[True, False] == pytest.approx(2, rel=0.05)
    assert losses[False, True] == pytest.approx(3, rel=0.05)
    assert losses[True, True] == pytest.approx(2, rel=0.05)


def test_blind_spot_hides_pixels_behind_a_neighbour_in_every_channel():
    from aecli.parts.blindspot import hidden_loss, hide_pixels

    images = torch.rand(4, 3, 20, 20)
    masked, hidden = hide_pixels(images, torch.Generator().manual_seed(0), share=0.1)
    assert hidden.shape == (4, 1, 20, 20) and 0.05 < hidden.float().mean() < 0.15
    changed = (masked != images).any(dim=1, keepdim=True)
    assert not (changed & ~hidden).any()  # only hidden pixels change, in all channels at once
    assert changed.sum() > 0.9 * hidden.sum()  # each replaced by a (different) neighbour
    assert hidden_loss(images, images, hidden) == 0


def test_poisson_gaussian_noise_has_the_photon_variance():
    from aecli.parts.corruption import Corruption

    x = torch.full((4, 20000), 0.5)
    noisy = Corruption("poisson:40+gaussian:10", x, x, unit=255.0)(x, torch.Generator())
    assert abs(float(noisy.mean()) - 0.5) < 0.01
    expected = 0.5 / 40 + (10 / 255) ** 2  # Poisson(40 x) / 40, then read noise
    assert abs(float(noisy.var()) / expected - 1) < 0.05


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(kind="denoising", width=8), "--width is for --kind denoiser"),
        (dict(kind="denoiser", self_supervised=True, noise="gaussian:25"), "leave out --noise"),
        (dict(kind="denoiser", self_supervised_method="blind-spot"), "for --self-supervised"),
        (dict(kind="vae", self_supervised_method="blind-spot"), "is for --kind denoiser"),
        (dict(kind="denoiser", self_supervised=True, self_supervised_method="n2v"), "one of"),
        (dict(kind="denoiser", init="pca"), "--init pca is for the bottleneck kinds"),
        (dict(kind="vae", init="photo"), "fine-tuning a model"),
        (dict(kind="denoiser", noise="poisson:0"), "PEAK"),
    ],
)
def test_bad_denoiser_options_are_one_line_user_errors(options, message):
    with pytest.raises(UserError, match=message):
        aecli.train(SAMPLE / "mnist", steps=1, **options)


def test_a_denoiser_refuses_a_table():
    with pytest.raises(UserError, match="is for images"):
        aecli.train(SAMPLE / "wine.csv", kind="denoiser", steps=1)


def test_the_shipped_photo_checkpoint_gives_the_outputs_of_the_earlier_weights():
    """The reference was computed by the earlier photo code and weights file (format 1)."""
    reference = np.load(FIXTURES / "photo-reference.npz")
    noisy = np.asarray(Image.open(SAMPLE / "astronaut-noisy.png"), np.float32) / 255
    crop = noisy[100:148, 60:100]
    photo = aecli.load("photo")
    assert photo.kind == "denoiser" and photo.architecture.parameter_count() == 252_916
    np.testing.assert_allclose(photo.denoise_image(crop), reference["rgb"], atol=1e-4)
    gray = photo.denoise_image(crop.mean(axis=2)[..., None])[..., 0]
    np.testing.assert_allclose(gray, reference["gray"], atol=1e-4)


def test_a_bottleneck_denoiser_on_another_size_points_to_the_denoiser_kind(tmp_path):
    for source in sorted((SAMPLE / "mnist").glob("*.png"))[:12]:
        (tmp_path / source.name).write_bytes(source.read_bytes())
    model = aecli.train(tmp_path, kind="denoising", steps=5, conv=(4,), seed=0, latent_dim=4)
    with pytest.warns(UserWarning, match="--kind denoiser"):
        model.denoise_image(np.zeros((40, 30, 1), np.float32))


def test_an_interrupted_denoiser_resumes_to_the_uninterrupted_weights(crops, tmp_path, monkeypatch):
    from aecli.data import image_crops
    from aecli.errors import TrainingInterrupted

    monkeypatch.setattr(image_crops, "POOL_VALUES", 2 * 96 * 96)  # two images at a time
    monkeypatch.setattr(image_crops, "REFRESH_STEPS", 4)  # so the pool is refilled on the way
    options = dict(kind="denoiser", steps=24, **TINY)
    reference = aecli.train(crops, **options)
    progress = tmp_path / "m.resume.safetensors"
    calls = iter(range(1000))
    with pytest.raises(TrainingInterrupted):
        aecli.train(crops, should_stop=lambda: next(calls) == 9, progress_path=progress, **options)
    resumed = aecli.train(crops, resume=progress)
    assert resumed.history["steps_run"] == reference.history["steps_run"] == 24
    pairs = zip(reference.net.state_dict().values(), resumed.net.state_dict().values(), strict=True)
    assert all(torch.equal(a, b) for a, b in pairs)


def test_inspect_describes_the_residual_network(trained, runner):
    result = invoke(runner, "inspect", trained)
    assert result.exit_code == 0, result.stderr
    text = " ".join(result.stdout.replace("│", " ").split())  # table cells wrap
    assert "residual denoiser: 2 blocks of 16 channels on 2x2 pixel blocks" in text
