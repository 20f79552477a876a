"""Blind-spot masking: training a denoiser on noisy images alone, with no clean targets.

If the noise of each pixel is independent of the other pixels' noise given the image (and has
mean zero), a network that never sees a pixel's own value cannot predict its noise; trained to
predict the noisy pixel from its neighbours, it learns the clean value, since the noise only adds
a constant to the expected squared error. So a random subset of pixels is hidden, each replaced
by a random neighbour from the 5 x 5 window around it, and the loss is scored only at the hidden
pixels, against their noisy values.

- Krull, Buchholz and Jug, "Noise2Void - Learning Denoising from Single Noisy Images",
  CVPR 2019 (the uniform-neighbour replacement used here).
- Batson and Royer, "Noise2Self: Blind Denoising by Self-Supervision", ICML 2019 (J-invariance:
  why scoring at hidden pixels only gives the clean-target loss plus a constant).
"""

from __future__ import annotations

import torch

HIDDEN_SHARE = 1 / 32  # of the pixels, hidden in each training crop
RADIUS = 2  # neighbours are drawn from the (2 RADIUS + 1)^2 window, the pixel itself excluded


def _offsets() -> torch.Tensor:
    side = torch.arange(-RADIUS, RADIUS + 1)
    grid = torch.cartesian_prod(side, side)
    return grid[(grid != 0).any(dim=1)]  # (24, 2): every neighbour but the pixel itself


def hide_pixels(
    images: torch.Tensor, gen: torch.Generator, share: float = HIDDEN_SHARE
) -> tuple[torch.Tensor, torch.Tensor]:
    """(images with hidden pixels replaced by a random neighbour, the (N, 1, H, W) mask of the
    hidden pixels). A pixel is hidden in all its channels at once, so a colour transform that
    mixes channels pixel by pixel keeps it hidden."""
    n, c, h, w = images.shape
    hidden = torch.rand(n, 1, h, w, generator=gen) < share
    offsets = _offsets()
    pick = offsets[torch.randint(len(offsets), (n, 1, h, w), generator=gen)]
    rows = (torch.arange(h).view(1, 1, h, 1) + pick[..., 0]).clamp(0, h - 1)
    cols = (torch.arange(w).view(1, 1, 1, w) + pick[..., 1]).clamp(0, w - 1)
    source = (rows * w + cols).expand(n, c, h, w).reshape(n, c, h * w).to(images.device)
    neighbours = images.reshape(n, c, h * w).gather(2, source).reshape(n, c, h, w)
    hidden = hidden.to(images.device)
    return torch.where(hidden, neighbours, images), hidden


def hidden_loss(out: torch.Tensor, noisy: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
    """Mean squared error between the prediction and the noisy image at the hidden pixels."""
    errors = ((out - noisy) ** 2 * hidden).sum()
    return errors / (hidden.sum() * out.shape[1]).clamp(min=1)
