"""Issue 18: an image VAE after a short training, sampled from its prior and from the density of
its training codes; which one the training-time choice picks (aecli.sample_choice).

Data: the first N MNIST test images in ../shared/data (written as PNGs to a temporary folder)
train `aecli.train(folder, kind="vae", latent_dim=16, steps=S, seed=0, threads=1)`; images
9000-9499 are held out. For each source, 500 decoded means (seed 0, T = 1) are compared with the
held-out images by the energy distance (pixels in [0, 1]) and written as an 8 x 8 grid to
benchmarks/out/vae_source_{prior,codes}.png; the source the model chose itself is printed.

Run from the repository root (about 10 minutes of CPU at the defaults on a busy machine):
    .venv/bin/python benchmarks/bench_vae_source.py [--images 1500] [--steps 1000]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import aecli
from aecli.sample_choice import energy_distance
from aecli.sampling import draw_codes

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist-t10k-images-idx3-ubyte.gz"
OUT = ROOT / "benchmarks" / "out"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1500)
    parser.add_argument("--steps", type=int, default=1000)
    args = parser.parse_args()
    with gzip.open(MNIST) as stream:
        raw = stream.read()
    images = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)
    held = images[9000:9500].reshape(500, -1).astype(np.float32) / 255
    with tempfile.TemporaryDirectory() as folder:
        for i in range(args.images):
            Image.fromarray(images[i]).save(f"{folder}/{i:05d}.png")
        started = time.perf_counter()
        model = aecli.train(folder, kind="vae", latent_dim=16, steps=args.steps, seed=0, threads=1)
    seconds = time.perf_counter() - started
    print(
        "| source | energy distance to 500 held-out images | "
        f"pixel SD (held-out {held.std(0).mean():.3f}) |"
    )
    print("|---|---:|---:|")
    for source in ("prior", "codes"):
        z, _, _ = draw_codes(model, 500, 0, 1.0, source, None)
        drawn = model.apply(model._decode_mean, z, width=model.n_features)
        grid = drawn[:64].reshape(8, 8, 28, 28).transpose(0, 2, 1, 3).reshape(224, 224)
        OUT.mkdir(exist_ok=True)
        Image.fromarray((grid * 255).astype(np.uint8)).save(OUT / f"vae_source_{source}.png")
        score = energy_distance(drawn.astype(np.float32), held)
        print(f"| {source} | {score:.4f} | {drawn.std(0).mean():.3f} |")
    chosen = model.history.get("sampling", {})
    print(f"\nChosen at training time: --from {chosen.get('source')} ({chosen.get('criterion')});")
    print(f"{args.images} training images, {args.steps} steps, {seconds:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
