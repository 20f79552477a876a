"""The built-in photo denoiser: quality on an unseen size, exact tiling, files keep size, mode and
format, and bad inputs (decompression bombs, damaged files, odd modes) give one-line errors."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from aecli.errors import CheckpointError, DataError, OutputExistsError, UserError
from aecli.models.photo import (
    builtin_path,
    denoise_array,
    denoise_file,
    load_builtin,
    load_weights,
    psnr,
)

SIGMA = 25 / 255


@pytest.fixture(scope="module")
def model():
    return load_builtin("photo")


def _clean_gray(height: int, width: int) -> np.ndarray:
    """A crop of scikit-image's camera (not a training image), or a synthetic scene without it."""
    try:
        from skimage import data

        return data.camera()[100 : 100 + height, 150 : 150 + width].astype(np.float64) / 255
    except ImportError:  # pragma: no cover - scikit-image is a dev dependency
        y, x = np.mgrid[0:height, 0:width] / max(height, width)
        scene = 0.3 + 0.4 * x + 0.2 * np.sin(9 * y)
        scene[(x - 0.5) ** 2 + (y - 0.4) ** 2 < 0.05] = 0.85
        return np.clip(scene, 0, 1)


def _clean_rgb(height: int, width: int) -> np.ndarray:
    try:
        from skimage import data

        return data.astronaut()[30 : 30 + height, 170 : 170 + width].astype(np.float64) / 255
    except ImportError:  # pragma: no cover
        gray = _clean_gray(height, width)
        return np.stack([gray, gray[::-1], 1 - gray], axis=-1)


def _noisy(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    return clean + np.random.default_rng(seed).normal(0.0, SIGMA, clean.shape)


def test_an_image_of_another_size_than_the_training_patches_gets_cleaner(model) -> None:
    clean = _clean_gray(151, 203)  # odd sizes, not the 64 x 64 training patches
    noisy = _noisy(clean)
    out = denoise_array(noisy, model)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    before, after = psnr(clean, noisy), psnr(clean, out)
    assert after > before + 5.0, (before, after)


def test_colour_images_get_cleaner(model) -> None:
    clean = _clean_rgb(120, 140)
    noisy = _noisy(clean, seed=1)
    out = denoise_array(noisy, model)
    assert out.shape == clean.shape
    assert psnr(clean, out) > psnr(clean, noisy) + 5.0


def test_tiles_match_the_whole_image_at_bounded_memory(model) -> None:
    noisy = _noisy(_clean_gray(191, 170))  # odd height: padded to even, then cropped back
    inputs: list[int] = []
    hook = model.register_forward_pre_hook(lambda _m, args: inputs.append(args[0].numel()))
    try:
        whole = denoise_array(noisy, model, tile=None)
        whole_pass = max(inputs)
        inputs.clear()
        tiled = denoise_array(noisy, model, tile=96)
    finally:
        hook.remove()
    assert np.abs(tiled - whole).max() < 1e-4
    assert len(inputs) == 2 * 2  # 96-pixel tiles, each with the model's margin around it
    assert max(inputs) <= (96 + 2 * model.margin) ** 2 < whole_pass


def test_tiles_match_for_colour_and_odd_tile_sizes(model) -> None:
    noisy = _noisy(_clean_rgb(90, 120))
    whole = denoise_array(noisy, model, tile=None)
    tiled = denoise_array(noisy, model, tile=61)  # rounded down to 60 (the model's 2x2 blocks)
    assert np.abs(tiled - whole).max() < 1e-4


def _save(array: np.ndarray, path: Path, mode: str, **options) -> Path:
    Image.fromarray(array, mode=mode).save(path, **options)
    return path


def _noisy_uint8(clean: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(_noisy(clean) * 255), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("mode", ["L", "RGB", "LA", "RGBA"])
def test_png_files_keep_size_mode_and_format(tmp_path: Path, mode: str) -> None:
    clean = _clean_rgb(70, 90) if mode.startswith("RGB") else _clean_gray(70, 90)
    pixels = _noisy_uint8(clean)
    if mode in ("LA", "RGBA"):
        alpha = np.tile(np.arange(90, dtype=np.uint8), (70, 1))
        pixels = np.dstack([pixels, alpha])
    src = _save(pixels, tmp_path / "noisy.png", mode)
    dst = tmp_path / "clean.png"
    denoise_file(src, dst)
    with Image.open(dst) as out:
        assert (out.format, out.mode, out.size) == ("PNG", mode, (90, 70))
        result = np.asarray(out)
    if mode in ("LA", "RGBA"):
        assert np.array_equal(result[..., -1], pixels[..., -1])  # alpha untouched
        result, pixels = result[..., :-1], pixels[..., :-1]
    target = np.rint(clean * 255).reshape(result.shape)
    assert psnr(target / 255, result / 255) > psnr(target / 255, pixels / 255) + 4.0
    assert not list(tmp_path.glob(".*.part"))  # no temporary file left behind


def test_jpeg_stays_jpeg_with_the_quality_asked_for(tmp_path: Path) -> None:
    src = _save(_noisy_uint8(_clean_rgb(64, 80)), tmp_path / "noisy.jpg", "RGB", quality=95)
    low, high = tmp_path / "low.jpg", tmp_path / "high.jpeg"
    denoise_file(src, low, quality=30)
    denoise_file(src, high, quality=95)
    for path in (low, high):
        with Image.open(path) as out:
            assert (out.format, out.mode, out.size) == ("JPEG", "RGB", (80, 64))
    assert low.stat().st_size < high.stat().st_size


def test_sixteen_bit_grayscale_keeps_its_depth(tmp_path: Path) -> None:
    clean = _clean_gray(48, 66)
    noisy = np.clip(np.rint(_noisy(clean) * 65535), 0, 65535).astype("<u2")
    src = tmp_path / "noisy.png"
    Image.frombytes("I;16", (66, 48), noisy.tobytes()).save(src)
    dst = tmp_path / "clean.png"
    denoise_file(src, dst)
    with Image.open(dst) as out:
        assert out.size == (66, 48) and out.format == "PNG"
        result = np.asarray(out).astype(np.float64) / 65535
    assert result.max() > 0.2  # not squashed into 8 bits
    assert psnr(clean, result) > psnr(clean, noisy / 65535) + 4.0


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height 8-bit gray pixels, with no pixel data at all."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_a_decompression_bomb_is_refused_with_a_data_error(tmp_path: Path) -> None:
    assert Image.MAX_IMAGE_PIXELS is not None  # Pillow's limit stays on
    src = tmp_path / "bomb.png"
    src.write_bytes(_png_header_only(30_000, 30_000))  # 900 Mpixels declared, 57 bytes on disk
    with pytest.raises(DataError, match=r"bomb\.png.*decompression bomb"):
        denoise_file(src, tmp_path / "out.png")
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", "not an image"), (b"hello, not a picture", "not an image")],
)
def test_unreadable_files_give_a_data_error(tmp_path: Path, content: bytes, match: str) -> None:
    src = tmp_path / "broken.png"
    src.write_bytes(content)
    with pytest.raises(DataError, match=match):
        denoise_file(src, tmp_path / "out.png")


def test_a_truncated_png_gives_a_data_error(tmp_path: Path) -> None:
    src = _save(_noisy_uint8(_clean_gray(40, 40)), tmp_path / "cut.png", "L")
    src.write_bytes(src.read_bytes()[:-40])
    with pytest.raises(DataError, match=r"cut\.png"):
        denoise_file(src, tmp_path / "out.png")


def test_missing_files_unsupported_modes_and_format_clashes(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        denoise_file(tmp_path / "nope.png", tmp_path / "out.png")
    palette = tmp_path / "palette.png"
    Image.new("P", (10, 10)).save(palette)
    with pytest.raises(DataError, match="mode P"):
        denoise_file(palette, tmp_path / "out.png")
    src = _save(_noisy_uint8(_clean_gray(40, 40)), tmp_path / "noisy.png", "L")
    with pytest.raises(UserError, match=r"clean\.png"):
        denoise_file(src, tmp_path / "clean.jpg")  # PNG data in a .jpg name: refused
    with pytest.raises(UserError, match="quality"):
        denoise_file(src, tmp_path / "out.png", quality=0)
    with pytest.raises(UserError, match="same file"):
        denoise_file(src, src, force=True)
    with pytest.raises(DataError, match="float"):
        denoise_array(np.zeros((8, 8), dtype=np.uint8))


def test_an_existing_output_needs_force(tmp_path: Path) -> None:
    src = _save(_noisy_uint8(_clean_gray(40, 40)), tmp_path / "noisy.png", "L")
    dst = tmp_path / "clean.png"
    dst.write_bytes(b"keep me")
    with pytest.raises(OutputExistsError):
        denoise_file(src, dst)
    assert dst.read_bytes() == b"keep me"
    denoise_file(src, dst, force=True)
    with Image.open(dst) as out:
        assert out.size == (40, 40)


def test_the_builtin_weights_are_small_and_describe_their_recipe(model) -> None:
    path = builtin_path("photo")
    assert path.stat().st_size < 5 * 1024 * 1024
    assert model.recipe["seed"] == 0 and model.recipe["sigma_range_255"] == [0.0, 55.0]
    assert not model.training
    with pytest.raises(UserError, match="unknown built-in"):
        load_builtin("nope")


def _rewrite_metadata(src: Path, dst: Path, change) -> None:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as handle:
        meta = dict(handle.metadata())
        tensors = {k: handle.get_tensor(k) for k in handle.keys()}  # noqa: SIM118
    payload = json.loads(meta["aecli"])
    change(payload, tensors)
    save_file(tensors, str(dst), metadata={"aecli": json.dumps(payload)})


def _residual(meta):
    return meta["architecture"]["residual"]


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda m, t: _residual(m).update(blocks=10_000), "blocks"),
        (lambda m, t: _residual(m).update(colour="other"), "residual"),
        (lambda m, t: m["architecture"].pop("image_shape"), "residual|image_shape"),
        (lambda m, t: m.update(format_version=99), "newer"),
        (lambda m, t: t.pop(next(iter(t))), "tensors"),
        (lambda m, t: _residual(m).update(channels=8), "tensors|shape"),
    ],
)
def test_tampered_weights_are_refused_before_use(tmp_path: Path, change, match: str) -> None:
    bad = tmp_path / "bad.safetensors"
    _rewrite_metadata(builtin_path("photo"), bad, change)
    with pytest.raises(CheckpointError, match=match):
        load_weights(bad)


def test_a_file_that_is_not_safetensors_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match=r"bad\.safetensors"):
        load_weights(bad)
