"""Training your own image denoiser (issue 17), side by side in one run with scikit-image's
classical denoisers and the built-in `photo` model.

Protocol. Test photos, none in the built-in's training set: 256 x 256 centre crops of the
grayscale camera, coins, astronaut and coffee from scikit-image. Noise: Gaussian, sigma 25 on the
0-255 scale, from numpy.random.default_rng(0), then clipped to [0, 1] and rounded to 8 bits (a
noisy PNG file, which is what `aecli train` and `aecli denoise` read); every method gets the same
noisy file. Training data:

- tiles: a folder of the non-overlapping 64 x 64 tiles of four other scikit-image photos (rocket,
  chelsea, moon, motorcycle_left; grayscale, clean): the issue's scenario, in which a bottleneck
  `--kind denoising` model made a larger unseen photo worse than the noisy input.
  `old denoising (tiles)`: `--kind denoising --noise gaussian:0-50` (whole 64 x 64 tiles, k 16).
  (a) `own denoiser (tiles)`: `--kind denoiser` (fresh random 48 x 48 crops of the tiles every
  step, `--noise gaussian:0-50` by default) from scratch, `--width/--depth` as given.
  Both get the same CPU budget (--cpu-minutes A).
- (b) digits, a domain the built-in was not trained on: `--kind denoiser --init photo`
  fine-tuned for B CPU-minutes on 2,000 MNIST test digits (t10k 5000-6999, ../shared/data or
  sample_data's copy of t10k's first 500 when absent: then 400 of them) and scored on 100 other
  digits (t10k 0-99 / sample 400-499), against the built-in and non-local means.
- (c) `self-supervised`: `--kind denoiser --self-supervised` on the four noisy test photos
  alone (no clean image anywhere), C CPU-minutes, scored on those same photos: from scratch
  with the default method (neighbor2neighbor; arm `self`), from scratch with
  `--self-supervised-method blind-spot` (arm `blind`), and starting from the built-in
  (`--init photo --self-supervised`, its 48 x 6 network; arm `selfinit`), for users with no
  clean images of their own.

Each budget is turned into a number of optimiser steps by timing two runs after a discarded
warm-up run (the difference between 10 and 260 steps, in process CPU time, one torch thread;
printed on stderr before the real run), so a run repeats exactly given the steps it prints.
Methods: non-local means (fast mode, patch 5, distance 6, h = 0.8 x estimate_sigma), TV
Chambolle (weight 0.08), wavelet BayesShrink (sigma estimated), the built-in photo model,
and the trained models, all blind (not told sigma) except what estimate_sigma finds.
PSNR and SSIM from skimage.metrics (data_range 1) against the clean image; seconds per image
(wall, after one warm-up call; torch on one thread).

Run from the repository root (minutes at the defaults; the issue's budgets are 10, 5 and 5):
    nice -n 10 .venv/bin/python benchmarks/bench_own_denoiser.py [--cpu-minutes 2 1 2]
    [--arms old,own,self,blind,selfinit,tuned]  (which models to train; the baselines always
    run; the default leaves out blind and selfinit)
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from skimage import color, data
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from skimage.restoration import (
    denoise_nl_means,
    denoise_tv_chambolle,
    denoise_wavelet,
    estimate_sigma,
)

import aecli

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist-t10k-images-idx3-ubyte.gz"
TEST = ("camera", "coins", "astronaut", "coffee")
TRAIN = ("rocket", "chelsea", "moon", "motorcycle_left")
SIGMA = 25 / 255
OLD_NOISE = "gaussian:0-50"  # the bottleneck kind gets the denoiser's default noise
CALIBRATE = 10  # steps of the short timing run
EPOCH_STEPS = 250  # the long one's extra steps: an epoch of 4,000 crops at batch 16
Denoise = Callable[[np.ndarray], np.ndarray]


def gray(name: str) -> np.ndarray:
    image = data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()
    if image.ndim == 3:
        image = color.rgb2gray(image[..., :3])
        return np.round(image * 255) / 255
    return image.astype(np.float64) / 255


def centre(image: np.ndarray, side: int = 256) -> np.ndarray:
    top, left = (image.shape[0] - side) // 2, (image.shape[1] - side) // 2
    return image[top : top + side, left : left + side]


def noisy_file(clean: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise, clipped and rounded to 8 bits: what a noisy PNG holds."""
    return np.round(np.clip(clean + rng.normal(0, SIGMA, clean.shape), 0, 1) * 255) / 255


def save(image: np.ndarray, path: Path) -> None:
    Image.fromarray(np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)).save(path)


def digits() -> tuple[np.ndarray, np.ndarray, str]:
    """(training digits, test digits, where they came from), values in [0, 1]."""
    if MNIST.exists():
        with gzip.open(MNIST) as stream:
            raw = stream.read()
        images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
        return images[5000:7000] / 255, images[:100] / 255, "t10k 5000-6999 / 0-99"
    files = sorted((ROOT / "sample_data" / "mnist").glob("*.png"))
    images = np.stack([np.asarray(Image.open(f), np.float64) / 255 for f in files])
    return images[:400], images[400:500], "sample_data/mnist 0-399 / 400-499"


def nl_means(noisy: np.ndarray) -> np.ndarray:
    sigma = float(estimate_sigma(noisy))
    return denoise_nl_means(
        noisy, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6
    )


def model_method(model: aecli.Model) -> Denoise:
    def run(noisy: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the old kind's "other size" advice
            return model.denoise_image(noisy[..., None].astype(np.float32))[..., 0]

    return run


def train_for(minutes: float, folder: Path, **options) -> tuple[aecli.Model, int, float]:
    """A model trained for about `minutes` of CPU time. The cost per step is the difference
    between a 10-step run and one an epoch longer (validation included), after a discarded
    warm-up run: the first `aecli.train` of a process pays one-off costs (seconds) that made a
    4-vs-12-step calibration come out negative, and then the floor of 1 ms per step turned 6
    CPU-minutes into 360,000 steps. Returns (model, steps, CPU seconds of the real run)."""
    aecli.train(folder, steps=2, **options)  # warm-up, not timed
    times = []
    for steps in (CALIBRATE, CALIBRATE + EPOCH_STEPS):
        start = time.process_time()
        aecli.train(folder, steps=steps, **options)
        times.append(time.process_time() - start)
    per_step = (times[1] - times[0]) / EPOCH_STEPS
    if per_step <= 0:  # a freak measurement: fall back to the longer run's mean
        per_step = times[1] / (CALIBRATE + EPOCH_STEPS)
    steps = max(10, int(minutes * 60 / per_step))
    print(
        f"{options.get('kind')}: {per_step * 1000:.1f} CPU-ms per step -> {steps} steps "
        f"for {minutes} CPU-min",
        file=sys.stderr,
        flush=True,
    )
    start = time.process_time()
    model = aecli.train(folder, steps=steps, **options)
    return model, steps, time.process_time() - start


def score(methods: dict[str, Denoise], pairs: list[tuple[np.ndarray, np.ndarray]]) -> list[list]:
    """Mean PSNR, SSIM and wall seconds per image of each method over (clean, noisy) pairs."""
    rows = []
    for name, method in methods.items():
        method(pairs[0][1])  # warm-up
        psnrs, ssims, seconds = [], [], []
        for clean, noisy in pairs:
            start = time.perf_counter()
            out = np.clip(method(noisy), 0, 1)
            seconds.append(time.perf_counter() - start)
            psnrs.append(peak_signal_noise_ratio(clean, out, data_range=1))
            ssims.append(structural_similarity(clean, out, data_range=1))
        rows.append([name, np.mean(psnrs), np.mean(ssims), np.mean(seconds)])
    return rows


def table(title: str, rows: list[list], notes: dict[str, str]) -> str:
    lines = [f"### {title}", "", "| method | PSNR dB | SSIM | s / image | training |"]
    lines.append("| --- | --- | --- | --- | --- |")
    for name, p, s, t in rows:
        lines.append(f"| {name} | {p:.2f} | {s:.3f} | {t:.3f} | {notes.get(name, '')} |")
    return "\n".join(lines)


def tiles(folder: Path) -> int:
    folder.mkdir()
    count = 0
    for name in TRAIN:
        image = gray(name)
        for top in range(0, image.shape[0] - 63, 64):
            for left in range(0, image.shape[1] - 63, 64):
                save(image[top : top + 64, left : left + 64], folder / f"{name}-{count:04d}.png")
                count += 1
    return count


def photos_section(args: argparse.Namespace, work: Path, common: dict) -> tuple[str, dict]:
    rng = np.random.default_rng(0)
    clean = [centre(gray(n)) for n in TEST]
    noisy = [noisy_file(c, rng) for c in clean]
    noisy_dir = work / "noisy"
    noisy_dir.mkdir()
    for name, image in zip(TEST, noisy, strict=True):
        save(image, noisy_dir / f"{name}.png")
    tile_dir = work / "tiles"
    n_tiles = tiles(tile_dir)
    a, _, c = args.cpu_minutes
    net = dict(width=args.width, depth=args.depth, **common)
    methods: dict[str, Denoise] = {
        "noisy": lambda x: x,
        "nl-means": nl_means,
        "TV (weight 0.08)": lambda x: denoise_tv_chambolle(x, weight=0.08),
        "wavelet": lambda x: denoise_wavelet(x, rescale_sigma=True),
        "built-in photo": model_method(aecli.load("photo")),
    }
    notes = {"built-in photo": "shipped (hours of CPU on 135 planes)"}
    arms = {
        "old denoising (tiles)": ("old", a, tile_dir, {"kind": "denoising", "noise": OLD_NOISE}),
        "(a) own denoiser (tiles)": ("own", a, tile_dir, dict(kind="denoiser", patch=48, **net)),
        "(c) self-supervised": ("self", c, noisy_dir, dict(self_supervised=True, patch=48, **net)),
        "(c) self-supervised, blind-spot": (
            "blind",
            c,
            noisy_dir,
            dict(self_supervised=True, self_supervised_method="blind-spot", patch=48, **net),
        ),
        "(c) --init photo --self-supervised": (
            "selfinit",
            c,
            noisy_dir,
            dict(self_supervised=True, init="photo", patch=48, **common),
        ),
    }
    for label, (arm, minutes, folder, options) in arms.items():
        if arm in args.arms:
            options = {"kind": "denoiser", **common, **options}
            model, steps, cpu = train_for(minutes, folder, **options)
            methods[label] = model_method(model)
            notes[label] = f"{steps} steps, {cpu / 60:.1f} CPU-min"
    for label in arms:
        if label.startswith("(c)") and label in notes:
            notes[label] += ", noisy photos only"
    rows = score(methods, list(zip(clean, noisy, strict=True)))
    title = (
        f"Photos: {', '.join(TEST)} (256 x 256, gray), sigma 25; training on {n_tiles} tiles "
        f"of {', '.join(TRAIN)}; budget A = {a}, C = {c} CPU-min"
    )
    return table(title, rows, notes), {r[0]: r[1] for r in rows}


def digits_section(args: argparse.Namespace, work: Path, common: dict) -> tuple[str, dict]:
    train, test, where = digits()
    folder = work / "digits"
    folder.mkdir()
    for i, image in enumerate(train):
        save(image, folder / f"{i:05d}.png")
    rng = np.random.default_rng(1)
    pairs = [(c, noisy_file(c, rng)) for c in test]
    b = args.cpu_minutes[1]
    tuned, steps, cpu = train_for(b, folder, kind="denoiser", init="photo", patch=28, **common)
    methods: dict[str, Denoise] = {
        "noisy": lambda x: x,
        "nl-means": nl_means,
        "built-in photo": model_method(aecli.load("photo")),
        "(b) --init photo, fine-tuned": model_method(tuned),
    }
    notes = {"(b) --init photo, fine-tuned": f"{steps} steps, {cpu / 60:.1f} CPU-min"}
    rows = score(methods, pairs)
    title = (
        f"Digits (MNIST {where}: {len(train)} to fine-tune, {len(test)} to score), sigma 25; "
        f"budget B = {b} CPU-min"
    )
    return table(title, rows, notes), {r[0]: r[1] for r in rows}


def verdicts(photo: dict, digit: dict) -> list[str]:
    def met(ok: bool) -> str:
        return "**met**" if ok else "**not met**"

    out = []
    builtin, nlm, noisy = photo["built-in photo"], photo["nl-means"], photo["noisy"]
    own, old = photo.get("(a) own denoiser (tiles)"), photo.get("old denoising (tiles)")
    selfsup = photo.get("(c) self-supervised")
    tuned, builtin_digits = digit.get("(b) --init photo, fine-tuned"), digit.get("built-in photo")
    if old is not None and own is not None:
        out.append(
            f"- tiles: old `--kind denoising` {old:.2f} dB against the noisy {noisy:.2f}; "
            f"`--kind denoiser` on the same tiles {own:.2f}"
        )
    if own is not None:
        out.append(
            f"- (a) own denoiser within 1 dB of the built-in: {own:.2f} vs {builtin:.2f} "
            f"({own - builtin:+.2f} dB): {met(own >= builtin - 1)}"
        )
    if tuned is not None and builtin_digits is not None:
        out.append(
            f"- (b) fine-tuned better than the built-in on digits: {tuned:.2f} vs "
            f"{builtin_digits:.2f} ({tuned - builtin_digits:+.2f} dB): "
            f"{met(tuned > builtin_digits)}"
        )
    for label in ("(c) self-supervised", "(c) self-supervised, blind-spot"):
        if label in photo:
            value = photo[label]
            out.append(
                f"- {label} (from scratch) above non-local means: {value:.2f} vs {nlm:.2f} "
                f"({value - nlm:+.2f} dB): {met(value > nlm)}"
            )
    if "(c) --init photo --self-supervised" in photo:
        value = photo["(c) --init photo --self-supervised"]
        out.append(
            f"- --init photo --self-supervised: {value:.2f} dB, vs non-local means "
            f"{value - nlm:+.2f} dB, vs the built-in {value - builtin:+.2f} dB"
        )
    if selfsup is not None and own is not None:
        out.append(
            "- self-supervised (noisy test photos only) vs supervised (a) (clean tiles): "
            f"{selfsup:.2f} vs {own:.2f} dB"
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu-minutes", type=float, nargs=3, default=[2.0, 1.0, 2.0])
    parser.add_argument("--width", type=int, default=32, help="of the own and self models")
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument(
        "--arms", default="old,own,self,tuned", help="the models to train, comma-separated"
    )
    args = parser.parse_args()
    args.arms = args.arms.split(",")  # a list: "self" must not match "selfinit"
    torch.set_num_threads(1)
    common = dict(seed=0, threads=1)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        photo_table, photo = photos_section(args, Path(tmp), common)
        digit_table, digit = "", {}
        if "tuned" in args.arms:
            digit_table, digit = digits_section(args, Path(tmp), common)
    print(photo_table, digit_table, "\n".join(verdicts(photo, digit)), sep="\n\n")
    print(
        f"\ncommit {commit}, {platform.processor() or platform.machine()}, torch "
        f"{torch.__version__}, 1 thread, load average {os.getloadavg()[0]:.1f} at the end, "
        f"{(time.perf_counter() - started) / 60:.1f} min wall in all, "
        f"args {vars(args)}"
    )


if __name__ == "__main__":
    main()
