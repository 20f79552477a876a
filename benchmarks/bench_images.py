"""Image models against PCA with the same code size, on held-out images, in one run.

Protocol: the 500 MNIST digits in sample_data/mnist (28 x 28, sorted by name); images 0-399 are
the training folder (aecli keeps its own 10% of them for validation), images 400-499 the held-out
folder. For each kind: `aecli.train(folder, kind=..., latent_dim=16, steps=--steps, seed=0,
threads=1)` (the default conv encoder/decoder, --conv 32,64), then `model.evaluate(held_out)`,
which also reports PCA (k = 16) fitted by aecli on the same training images. Reconstruction MSE
is per pixel, pixels in [0, 1]; ratio < 1 means better than PCA. Wall time of `aecli.train`.

Run from the repository root:  .venv/bin/python benchmarks/bench_images.py [--steps 1000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

import aecli

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "mnist"
KINDS = ("linear", "undercomplete", "denoising", "sparse", "vae")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    files = sorted(SAMPLE.glob("*.png"))
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1):
        train, test = Path(tmp) / "train", Path(tmp) / "test"
        for folder, chunk in ((train, files[:400]), (test, files[400:])):
            folder.mkdir()
            for f in chunk:
                shutil.copy(f, folder / f.name)
        print(f"MNIST sample: 400 training / 100 held-out images, k = 16, {args.steps} steps")
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 CPUs)")
        print(f"{'kind':<14} {'model MSE':>10} {'PCA MSE':>9} {'ratio':>6} {'train s':>8}")
        for kind in KINDS:
            options = {"noise": "gaussian:0-100"} if kind == "denoising" else {}
            start = time.perf_counter()
            model = aecli.train(
                train, kind=kind, latent_dim=16, steps=args.steps, seed=0, threads=1, **options
            )
            seconds = time.perf_counter() - start
            mse = model.evaluate(test)["reconstruction_mse"]
            print(
                f"{kind:<14} {mse['model']:>10.4f} {mse['pca']:>9.4f} "
                f"{mse['model'] / mse['pca']:>6.3f} {seconds:>8.1f}"
            )


if __name__ == "__main__":
    main()
