"""The residual denoising network: no bottleneck, it predicts the noise and subtracts it, so the
denoising equation L(x, g(f(corrupt(x)))) holds with an overcomplete code. DnCNN-style, run at half
resolution on 2x2 pixel blocks as in FFDNet; fully convolutional, so it takes any image size."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from aecli.errors import CheckpointError, check_int

ARCHITECTURE = "resnet-unshuffle"
LIMITS = {"blocks": (1, 32), "channels": (1, 256), "scale": (1, 4)}


class _Block(nn.Module):
    """conv3x3, ReLU, conv3x3, plus the input (no batch norm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


class ResidualDenoiser(nn.Module):
    """Blind residual denoiser: 2x2 pixel-unshuffle, a conv, `blocks` residual blocks, a conv.

    The network predicts the noise, which is subtracted. Input and output are (N, 1, H, W)
    tensors with H and W multiples of `scale`; no batch norm, zero padding.
    """

    def __init__(self, blocks: int = 6, channels: int = 48, scale: int = 2) -> None:
        super().__init__()
        self.blocks, self.channels, self.scale = blocks, channels, scale
        cells = scale * scale
        self.head = nn.Conv2d(cells, channels, 3, padding=1)
        self.body = nn.Sequential(*[_Block(channels) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, cells, 3, padding=1)

    @property
    def convolutions(self) -> int:
        """How many 3x3 convolutions an input pixel passes through."""
        return 2 + 2 * self.blocks

    @property
    def margin(self) -> int:
        """Pixels of context each side that an output pixel depends on (a multiple of `scale`)."""
        return self.scale * (self.convolutions + 1)

    def architecture(self) -> dict[str, Any]:
        """The JSON description stored in the weights file."""
        return {
            "type": ARCHITECTURE,
            "blocks": self.blocks,
            "channels": self.channels,
            "scale": self.scale,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Denoised (N, 1, H, W) from noisy (N, 1, H, W)."""
        features = F.relu(self.head(F.pixel_unshuffle(x, self.scale)))
        noise = self.tail(self.body(features))
        return x - F.pixel_shuffle(noise, self.scale)


def architecture_from_dict(arch: Any) -> dict[str, int]:
    """The constructor arguments a weights file declares, every field checked."""
    if not isinstance(arch, dict) or arch.get("type") != ARCHITECTURE:
        raise CheckpointError("unknown denoiser architecture; upgrade aecli")
    if set(arch) != {"type", *LIMITS}:
        raise CheckpointError("the denoiser architecture has unexpected fields")
    return {key: check_int(arch[key], key, low, high) for key, (low, high) in LIMITS.items()}
