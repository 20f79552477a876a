"""Train the built-in `photo` denoiser: the recipe that produced src/aecli/models/photo.safetensors.

Data: grayscale versions of images bundled with scikit-image and scikit-learn that are NOT in the
benchmark set (camera, moon, coins, text, page, astronaut, coffee, chelsea, and `cat`, which is
chelsea again): natural photos (rocket, clock, retina, immunohistochemistry, both views of
stereo_motorcycle, cell, hubble_deep_field, sklearn's flower), textures (brick, grass, gravel) and
synthetic shapes (logo, colorwheel, horse, binary_blobs, checkerboard, shepp_logan_phantom).
Colour images give their luma and each of R, G, B; every image is also used at 3/4 and 1/2 scale.
sklearn's china.jpg is held out to pick the best checkpoint (PSNR at sigma 15, 25 and 50).

Each step draws random 64 x 64 patches (uniform over the 8 flips/rotations), adds Gaussian noise
with sigma uniform in [0, 55] (0-255 scale) per patch; a quarter of the noisy patches are then
clipped to [0, 1] and quantised to 8 bits, as in a noisy PNG. Loss: MSE on the image. Adam,
linear warm-up then cosine decay to 1% over --steps, or over --minutes if that runs out first.
Everything random comes from --seed: a run that --steps ends repeats with the same seed and torch
build; one that --minutes ends depends on the machine's speed.

    .venv/bin/python scripts/train_photo_denoiser.py --steps 5000 --minutes 60 \
        --out src/aecli/models/photo.safetensors
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
from skimage import color, data, img_as_float, transform
from torch.nn import functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from aecli.models.photo import PhotoDenoiser, load_weights, psnr, save_weights

BENCHMARK = ("camera", "moon", "coins", "text", "page", "astronaut", "coffee", "chelsea", "cat")
NATURAL = (
    "rocket",
    "clock",
    "retina",
    "immunohistochemistry",
    "stereo_motorcycle",
    "cell",
    "hubble_deep_field",
    "brick",
    "grass",
    "gravel",
)
SYNTHETIC = ("logo", "colorwheel", "horse", "binary_blobs", "checkerboard", "shepp_logan_phantom")
SCALES = (1.0, 0.75, 0.5)
VALIDATION_SIGMAS = (15.0, 25.0, 50.0)


def _as_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == bool:
        return image.astype(np.float64)
    return img_as_float(image).astype(np.float64)


def _planes(name: str, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Grayscale planes of one image: luma, plus R, G and B for colour images."""
    image = _as_float(image)
    if image.ndim == 2:
        return [(name, image)]
    if image.shape[2] == 4:  # composite on white
        alpha = image[..., 3:]
        image = image[..., :3] * alpha + (1.0 - alpha)
    planes = [(f"{name}/luma", color.rgb2gray(image))]
    planes += [(f"{name}/{band}", image[..., i]) for i, band in enumerate("RGB")]
    return planes


def training_images() -> list[tuple[str, np.ndarray]]:
    """All training planes at every scale, as float32 arrays in [0, 1]."""
    from sklearn.datasets import load_sample_image

    sources: list[tuple[str, np.ndarray]] = []
    for name in NATURAL + SYNTHETIC:
        assert name not in BENCHMARK
        loaded = getattr(data, name)()
        if name == "stereo_motorcycle":
            sources += [("stereo_left", loaded[0]), ("stereo_right", loaded[1])]
        else:
            sources.append((name, loaded))
    sources.append(("sklearn_flower", load_sample_image("flower.jpg")))
    planes: list[tuple[str, np.ndarray]] = []
    for name, image in sources:
        for plane_name, plane in _planes(name, image):
            for scale in SCALES:
                scaled = (
                    plane if scale == 1.0 else transform.rescale(plane, scale, anti_aliasing=True)
                )
                if min(scaled.shape) >= 80:
                    planes.append((f"{plane_name}@{scale}", scaled.astype(np.float32)))
    return planes


def validation_set(seed: int) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """sklearn's china.jpg (grayscale, 256 x 256 centre crop) with noise at fixed sigmas."""
    from sklearn.datasets import load_sample_image

    gray = color.rgb2gray(_as_float(load_sample_image("china.jpg")))
    h, w = gray.shape
    clean = gray[(h - 256) // 2 : (h + 256) // 2, (w - 256) // 2 : (w + 256) // 2]
    rng = np.random.default_rng(seed + 1)
    return [
        (sigma, clean, clean + rng.normal(0.0, sigma / 255.0, clean.shape))
        for sigma in VALIDATION_SIGMAS
    ]


def evaluate(
    model: PhotoDenoiser, cases: list[tuple[float, np.ndarray, np.ndarray]]
) -> list[float]:
    model.eval()
    scores = []
    with torch.inference_mode():
        for _sigma, clean, noisy in cases:
            x = torch.from_numpy(noisy.astype(np.float32))[None, None]
            out = model(x)[0, 0].clamp(0, 1).numpy()
            scores.append(psnr(clean, out))
    model.train()
    return scores


class Patches:
    """Random training patches: area-weighted image choice, random crop, flip and rotation."""

    def __init__(self, planes: list[tuple[str, np.ndarray]], size: int, seed: int) -> None:
        self.planes = [p for _, p in planes]
        areas = np.array([p.size for p in self.planes], dtype=np.float64)
        self.weights = np.sqrt(areas) / np.sqrt(areas).sum()  # big images count, not dominate
        self.size = size
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> np.ndarray:
        out = np.empty((n, 1, self.size, self.size), dtype=np.float32)
        picks = self.rng.choice(len(self.planes), size=n, p=self.weights)
        for i, k in enumerate(picks):
            plane = self.planes[k]
            top = self.rng.integers(0, plane.shape[0] - self.size + 1)
            left = self.rng.integers(0, plane.shape[1] - self.size + 1)
            patch = plane[top : top + self.size, left : left + self.size]
            patch = np.rot90(patch, int(self.rng.integers(4)))
            if self.rng.integers(2):
                patch = patch[:, ::-1]
            out[i, 0] = patch
        return out


def init_weights(model: PhotoDenoiser) -> None:
    for conv in model.modules():
        if isinstance(conv, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            torch.nn.init.zeros_(conv.bias)
    for block in model.body:  # every residual block starts as the identity
        torch.nn.init.zeros_(block.conv2.weight)
    with torch.no_grad():
        model.tail.weight.mul_(0.1)  # and the network starts close to the identity


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--minutes", type=float, default=None, help="stop early after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--blocks", type=int, default=6)
    parser.add_argument("--channels", type=int, default=48)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--sigma-max", type=float, default=55.0)
    parser.add_argument("--clip-fraction", type=float, default=0.25)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--init", type=Path, default=None, help="start from these weights (a further phase)"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    planes = training_images()
    print(
        f"{len(planes)} training planes, {sum(p.size for _, p in planes) / 1e6:.1f} Mpixels",
        flush=True,
    )
    patches = Patches(planes, args.patch, args.seed)
    cases = validation_set(args.seed)
    if args.init is not None:
        model = load_weights(args.init).requires_grad_(True)
        previous = dict(getattr(model, "recipe", {}))
    else:
        model = PhotoDenoiser(blocks=args.blocks, channels=args.channels)
        init_weights(model)
        previous = None
    model = model.to(memory_format=torch.channels_last).train()
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters", flush=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    def progress_at(step: int, elapsed: float) -> float:
        # the budget that runs out first drives the schedule: with --steps alone (or a --minutes
        # that never binds) the run is deterministic; a binding --minutes still ends annealed
        done = (step - args.warmup) / max(1, args.steps - args.warmup)
        if args.minutes is not None:
            done = max(done, elapsed / (args.minutes * 60))
        return min(1.0, max(0.0, done))

    def lr_at(step: int, progress: float) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        return args.lr * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress)))

    generator = torch.Generator().manual_seed(args.seed)
    recipe = {
        "script": "scripts/train_photo_denoiser.py",
        "seed": args.seed,
        "steps_planned": args.steps,
        "minutes_budget": args.minutes,
        "batch": args.batch,
        "patch": args.patch,
        "lr": args.lr,
        "warmup": args.warmup,
        "schedule": "linear warm-up, cosine to 1% of lr",
        "optimizer": "Adam",
        "loss": "MSE",
        "sigma_range_255": [0.0, args.sigma_max],
        "clip_fraction": args.clip_fraction,
        "scales": list(SCALES),
        "data": sorted({name.split("@")[0].split("/")[0] for name, _ in planes}),
        "validation": "sklearn china.jpg gray 256x256 centre, sigma 15/25/50",
        "threads": args.threads,
        "torch": torch.__version__,
    }
    if previous is not None:
        recipe["init"] = {"file": str(args.init), "recipe": previous}
    start = time.monotonic()
    best, running, step = -math.inf, 0.0, 0
    for step in range(args.steps):
        progress = progress_at(step, time.monotonic() - start)
        lr = lr_at(step, progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        clean = torch.from_numpy(patches.batch(args.batch))
        sigma = torch.rand(args.batch, 1, 1, 1, generator=generator) * (args.sigma_max / 255.0)
        noisy = clean + sigma * torch.randn(clean.shape, generator=generator)
        clip = torch.rand(args.batch, 1, 1, 1, generator=generator) < args.clip_fraction
        quantised = torch.round(noisy.clamp(0, 1) * 255.0) / 255.0
        noisy = torch.where(clip, quantised, noisy)
        out = model(noisy.contiguous(memory_format=torch.channels_last))
        loss = F.mse_loss(out, clean)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if not math.isfinite(loss.item()):
            raise SystemExit(f"loss became {loss.item()} at step {step}")
        running += loss.item()
        last = step + 1 == args.steps
        elapsed = time.monotonic() - start
        out_of_time = args.minutes is not None and elapsed > args.minutes * 60
        if out_of_time:
            recipe["stopped_by"] = "minutes"
        if (step + 1) % args.eval_every == 0 or last or out_of_time:
            scores = evaluate(model, cases)
            mean = float(np.mean(scores))
            improved = mean > best
            if improved:
                best = mean
                recipe.update(
                    steps_done=step + 1,
                    minutes=round(elapsed / 60, 1),
                    validation_psnr={
                        f"{s:g}": round(v, 3)
                        for s, v in zip(VALIDATION_SIGMAS, scores, strict=True)
                    },
                )
                save_weights(model, args.out, recipe)
            print(
                f"step {step + 1} {elapsed / 60:.1f} min lr {lr:.2e} "
                f"loss {running / args.eval_every:.3e} val "
                + " ".join(f"{v:.2f}" for v in scores)
                + (" saved" if improved else ""),
                flush=True,
            )
            running = 0.0
        if out_of_time:
            print(f"stopped by --minutes after {step + 1} steps", flush=True)
            break
    print(json.dumps({"best_validation_mean": round(best, 3), "steps": step + 1}), flush=True)


if __name__ == "__main__":
    main()
