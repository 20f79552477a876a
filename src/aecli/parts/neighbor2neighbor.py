"""Neighbour sub-sampling: training a denoiser on noisy images alone, every pixel a target.

Each 2 x 2 cell of a noisy crop gives two adjacent pixels, chosen at random per cell: the first
of every cell makes one half-size image, the second another. The two see the same (slightly
shifted) picture with independent noise, so, as in Noise2Noise, a network trained to turn one
into the other learns the clean picture. Unlike blind-spot masking (blindspot.py), which scores
a few hidden pixels per crop, every pixel of the half-size image is a target, so each step
teaches more. A regulariser keeps the network trained on half-size pairs consistent with the
network applied to the whole noisy crop: the difference of the two sub-samples of the
network's (not differentiated) full-size output should match that of its half-size prediction
and target.

- Huang, Li, Jia, Lu and Liu, "Neighbor2Neighbor: Self-Supervised Denoising from Single Noisy
  Images", CVPR 2021 (the sub-sampler, the loss and its regulariser; the paper ramps the
  weight from 0 to 2 over training, here it is `REGULARISER` throughout: the ramp measured
  0.01 dB lower at 1 CPU-minute on the benchmark's photos).
- Lehtinen et al., "Noise2Noise: Learning Image Restoration without Clean Data", ICML 2018
  (why independent noisy targets give the clean-target optimum).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

REGULARISER = 2.0  # gamma, throughout training (the paper ramps it up to 2 for Gaussian noise)

# the 8 ordered pairs of horizontally or vertically adjacent cells of a 2 x 2 block, cells
# numbered 0 (top left), 1 (top right), 2 (bottom left), 3 (bottom right)
_PAIRS = torch.tensor([[0, 1], [0, 2], [1, 0], [1, 3], [2, 0], [2, 3], [3, 1], [3, 2]])


def pair_cells(images: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Two (N, 1, H/2, W/2) indices (0-3) of adjacent pixels in each 2 x 2 cell of (N, C, H, W)
    `images` (H and W even), the same for every channel."""
    n, _, h, w = images.shape
    pick = _PAIRS[torch.randint(len(_PAIRS), (n, 1, h // 2, w // 2), generator=gen)]
    return pick[..., 0].to(images.device), pick[..., 1].to(images.device)


def sub_sample(images: torch.Tensor, cells: torch.Tensor) -> torch.Tensor:
    """The (N, C, H/2, W/2) image of the pixel `cells` picks in each 2 x 2 cell."""
    n, c, h, w = images.shape
    blocks = F.pixel_unshuffle(images, 2).reshape(n, c, 4, h // 2, w // 2)
    index = cells[:, :, None].expand(n, c, 1, h // 2, w // 2)
    return blocks.gather(2, index)[:, :, 0]


def pair_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    full_first: torch.Tensor | None = None,
    full_second: torch.Tensor | None = None,
    weight: float = 0.0,
) -> torch.Tensor:
    """Mean squared error of the half-size prediction against the other sub-sample, plus
    `weight` times the regulariser (the full-size output's sub-samples, not differentiated).

    Without the regulariser this is the validation loss: as the target's noise is independent
    of the prediction, it is the prediction's squared error against the clean target plus the
    noise variance, so it falls as the denoiser improves. The regulariser does not: it is
    near 0 for a network that changes nothing and grows as the network learns to smooth, so
    with it a run kept its first epoch (measured: validation loss rising from 0.0294 to 0.0319
    over 5 epochs while the photos went from 26.6 to 28.0 dB)."""
    difference = prediction - target
    if full_first is None or full_second is None or not weight:
        return torch.mean(difference**2)
    consistency = difference - (full_first - full_second)
    return torch.mean(difference**2) + weight * torch.mean(consistency**2)
