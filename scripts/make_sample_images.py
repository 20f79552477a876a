"""Write the image samples in sample_data/ (deterministic; run from the repository root).

- sample_data/mnist/: the first 500 images of the MNIST test set (../shared/data), as 28 x 28
  grayscale PNGs named NNNN-LABEL.png.
- sample_data/astronaut.png: scikit-image's astronaut (NASA, public domain), 256 x 256 centre
  crop of the 512 x 512 picture; sample_data/astronaut-noisy.png: the same with Gaussian noise of
  sigma 25 (0-255 scale, numpy seed 0), clipped and rounded to 8 bits.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "sample_data"


def main() -> None:
    with gzip.open(SHARED / "mnist-t10k-images-idx3-ubyte.gz") as handle:
        images = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(SHARED / "mnist-t10k-labels-idx1-ubyte.gz") as handle:
        labels = np.frombuffer(handle.read(), np.uint8, offset=8)
    folder = OUT / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(500):
        Image.fromarray(images[i]).save(folder / f"{i:04d}-{labels[i]}.png", optimize=True)
    photo = data.astronaut()[128:384, 128:384]
    Image.fromarray(photo).save(OUT / "astronaut.png", optimize=True)
    noise = np.random.default_rng(0).normal(0.0, 25.0, photo.shape)
    noisy = np.clip(np.rint(photo.astype(np.float64) + noise), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(OUT / "astronaut-noisy.png", optimize=True)


if __name__ == "__main__":
    main()
