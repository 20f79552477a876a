"""Issue 4 benchmark: aecli's VAE on MNIST (Bernoulli decoder, 20 latent dimensions) beside PCA.

Data: the 10,000 MNIST test-set images in ../shared/data, pixels scaled to [0, 1] (grey levels, not
binarised, unless --binarize). The first 8,000 images are the training table (aecli holds out its
default 10% of them for early stopping), the last 2,000 are the test rows every figure is
measured on. The VAE is trained with `aecli.train(kind="vae", likelihood="bernoulli")` for a fixed
number of epochs; PCA with the same k = 20 is fitted by aecli on the same training rows and
reported from the same `Model.evaluate` call:

- test ELBO and IWAE bound (K importance samples) on log p(x), nats per image;
- reconstruction MSE per pixel (pixel units), the VAE's (decoder mean at the posterior mean) and
  PCA's (projection on the top 20 axes);
- the probabilistic-PCA log-likelihood, nats per image. It is a *density* over R^784, not a
  probability of the pixel values, so it is not comparable with the VAE's Bernoulli figures (on
  grey levels the Bernoulli "likelihood" is a cross-entropy, not a pmf either): it is reported
  because `evaluate` reports it, nothing more.

It writes three 8 x 8 grids of 64 samples (decoder means, i.e. pixel probabilities) under
benchmarks/out/: the VAE from its prior (`source="prior"`), the VAE from the Gaussian mixture
fitted to its training codes (`source="codes"`), and probabilistic PCA's mean image for z ~ N(0,
diag(lambda)) as a baseline; plus the figures as JSON.

Threads: on this shared 2-core machine, torch with 2 threads was ~18x slower per step than with 1
(spin-waiting threads fight the other jobs), so the default is 1 torch thread and 1 BLAS thread.

Run from the repository root:  .venv/bin/python benchmarks/bench_vae_mnist.py [--iwae-samples 10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from threadpoolctl import threadpool_limits

import aecli

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared" / "data" / "mnist-t10k-images-idx3-ubyte.gz"
OUT = ROOT / "benchmarks" / "out"
N_TRAIN = 8000
SIDE = 28


def load_mnist(path: Path, binarize: bool, seed: int) -> np.ndarray:
    """(10000, 784) float32 pixels in [0, 1]; with `binarize`, a seeded Bernoulli draw of each."""
    with gzip.open(path) as stream:
        raw = np.frombuffer(stream.read(), np.uint8, offset=16).reshape(-1, SIDE * SIDE)
    pixels = raw.astype(np.float32) / 255.0
    if binarize:
        rng = np.random.default_rng(seed)
        pixels = (rng.random(pixels.shape) < pixels).astype(np.float32)
    return pixels


def as_frame(pixels: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(pixels, columns=[f"p{i}" for i in range(pixels.shape[1])])


def save_grid(pixels: np.ndarray, path: Path, cols: int = 8, zoom: int = 2) -> int:
    """Write rows of 784 values in [0, 1] as a grid of 28 x 28 digits (white on black, 1 px
    grey gutters) to a greyscale PNG; returns its size in bytes."""
    n = len(pixels)
    rows = -(-n // cols)
    cell = SIDE + 1
    canvas = np.full((rows * cell + 1, cols * cell + 1), 0.35, np.float32)
    for i, image in enumerate(pixels):
        r, c = divmod(i, cols)
        canvas[1 + r * cell : 1 + r * cell + SIDE, 1 + c * cell : 1 + c * cell + SIDE] = (
            image.reshape(SIDE, SIDE)
        )
    img = Image.fromarray((np.clip(canvas, 0, 1) * 255).round().astype(np.uint8), mode="L")
    img = img.resize((img.width * zoom, img.height * zoom), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, optimize=True)
    return path.stat().st_size


def ppca_mean_samples(train: np.ndarray, k: int, n: int, seed: int) -> np.ndarray:
    """PCA's generative baseline: mean + V z with z ~ N(0, diag(lambda)) (top-k axes of the
    training rows; the isotropic noise of PPCA left out, as the VAE grids show decoder means)."""
    mean = train.mean(axis=0)
    _, s, vt = np.linalg.svd(train - mean, full_matrices=False)
    lam = s[:k] ** 2 / len(train)
    z = np.random.default_rng(seed).standard_normal((n, k)) * np.sqrt(lam)
    return np.clip(mean + z @ vt[:k], 0.0, 1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100, help="fixed training budget")
    parser.add_argument("--hidden", default="512,256", help="encoder layer sizes")
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--kl-warmup", type=int, default=10, help="epochs of beta ramp-up")
    parser.add_argument("--patience", type=int, default=0, help="0: run every epoch")
    parser.add_argument("--iwae-samples", type=int, default=100, help="K of the IWAE bound")
    parser.add_argument("--threads", type=int, default=1, help="torch and BLAS threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--binarize", action="store_true", help="seeded binarisation of pixels")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    hidden = tuple(int(h) for h in args.hidden.split(","))
    tag = "mnist_vae_binarized" if args.binarize else "mnist_vae"

    pixels = load_mnist(IMAGES, args.binarize, args.seed)
    train, test = as_frame(pixels[:N_TRAIN]), as_frame(pixels[N_TRAIN:])
    options = {
        "kind": "vae",
        "latent_dim": args.latent_dim,
        "hidden": hidden,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "kl_warmup": args.kl_warmup,
        "patience": args.patience,
        "likelihood": "bernoulli",
        "seed": args.seed,
        "threads": args.threads,
    }
    print(f"# MNIST VAE: {len(train)} training images, {len(test)} test images; {options}")
    print(f"# torch {torch.__version__}, {args.threads} thread(s)", flush=True)

    last_print = [time.perf_counter()]

    def on_epoch(record: dict, planned: int) -> None:
        now = time.perf_counter()
        if record["epoch"] % 10 == 0 or record["epoch"] == planned or now - last_print[0] > 60:
            last_print[0] = now
            print(
                f"  epoch {record['epoch']:>4}/{planned}: train loss {record['train_loss']:.2f}"
                f"  validation -ELBO {record['val_loss']:.2f}",
                flush=True,
            )

    with threadpool_limits(args.threads):
        started = time.perf_counter()
        model = aecli.train(train, on_epoch=on_epoch, **options)
        train_seconds = time.perf_counter() - started
        started = time.perf_counter()
        result = model.evaluate(test, importance_samples=args.iwae_samples, seed=args.seed)
        eval_seconds = time.perf_counter() - started
        train_elbo = model.evaluate(train.iloc[:2000], importance_samples=1, seed=args.seed)

        prior = model.sample(64, seed=args.seed, source="prior").to_numpy(np.float32)
        codes = model.sample(64, seed=args.seed, source="codes").to_numpy(np.float32)
        ppca = ppca_mean_samples(pixels[:N_TRAIN], args.latent_dim, 64, args.seed)
    sizes = {
        name: save_grid(grid, args.out / f"{tag}_{name}.png")
        for name, grid in (("samples", prior), ("codes_samples", codes), ("ppca_samples", ppca))
    }
    density = model.extras.get("density", {})
    figures = {
        "options": {**options, "hidden": list(hidden)},
        "binarized": args.binarize,
        "torch": torch.__version__,
        "epochs_run": model.history["epochs_run"],
        "best_epoch": model.history["best_epoch"],
        "train_seconds": train_seconds,
        "evaluate_seconds": eval_seconds,
        "test_elbo": result["elbo"],
        "test_iwae": result["iwae_log_likelihood"],
        "importance_samples": args.iwae_samples,
        "train_elbo_first_2000": train_elbo["elbo"],
        "vae_reconstruction_mse": result["reconstruction_mse"]["model"],
        "pca_reconstruction_mse": result["reconstruction_mse"]["pca"],
        "ppca_log_likelihood": result["pca_log_likelihood"],
        "code_mixture_components": len(density.get("weights", [])),
        "png_bytes": sizes,
    }
    (args.out / f"{tag}.json").write_text(json.dumps(figures, indent=2) + "\n")

    k = args.latent_dim
    print(f"\n| model (k = {k}) | test ELBO | test IWAE (K={args.iwae_samples}) | recon MSE |")
    print("|---|---:|---:|---:|")
    print(
        f"| aecli VAE, Bernoulli decoder | {result['elbo']:.2f} | "
        f"{result['iwae_log_likelihood']:.2f} | {result['reconstruction_mse']['model']:.5f} |"
    )
    print(
        f"| PCA / probabilistic PCA | ({result['pca_log_likelihood']:.2f}, a density: "
        f"not comparable) | - | {result['reconstruction_mse']['pca']:.5f} |"
    )
    print(
        f"\nnats per image; MSE per pixel in [0, 1] units; training ELBO (first 2,000 training "
        f"images, K=1) {train_elbo['elbo']:.2f}"
    )
    print(
        f"training: {train_seconds:.0f} s wall for {model.history['epochs_run']} epochs "
        f"(best epoch {model.history['best_epoch']}); evaluate: {eval_seconds:.0f} s"
    )
    print(f"code mixture: {figures['code_mixture_components']} components (BIC)")
    for name, size in sizes.items():
        print(f"wrote {args.out / f'{tag}_{name}.png'} ({size / 1024:.0f} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
