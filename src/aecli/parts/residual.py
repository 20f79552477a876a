"""The residual denoising network: no bottleneck, it predicts the noise and subtracts it, so the
denoising equation L(x, g(f(corrupt(x)))) holds with an overcomplete code. DnCNN-style (Zhang et
al. 2017), run at half resolution on 2x2 pixel blocks as in FFDNet (Zhang et al. 2018); fully
convolutional, so it takes any image size. `DenoiserNet` is that network as the `denoiser` kind's
model: rows of C x H x W pixels in and out, colour images in an opponent colour space."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn import functional as F

from aecli.errors import CheckpointError, check_int
from aecli.parts.architecture import RESIDUAL_LIMITS

if TYPE_CHECKING:
    from aecli.parts.architecture import Architecture

ARCHITECTURE = "resnet-unshuffle"
LIMITS = RESIDUAL_LIMITS

# Orthogonal rows: i.i.d. noise in R, G, B stays independent in the three channels, each with a
# smaller standard deviation (1/sqrt(3), 1/sqrt(2), sqrt(6)/4 of the RGB one); every channel of a
# [0, 1] image stays in [0, 1] after the offsets.
OPPONENT = ((1 / 3, 1 / 3, 1 / 3), (1 / 2, 0.0, -1 / 2), (1 / 4, -1 / 2, 1 / 4))
OPPONENT_OFFSET = (0.0, 0.5, 0.5)


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

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Kaiming weights; every residual block and the whole network start near the identity
        (each block's second conv at zero, the last conv scaled by 0.1)."""
        for conv in self.modules():
            if isinstance(conv, nn.Conv2d):
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                nn.init.zeros_(conv.bias)
        for block in self.body:
            nn.init.zeros_(block.conv2.weight)
        self.tail.weight.mul_(0.1)


class DenoiserNet(ResidualDenoiser):
    """The `denoiser` kind's network: `clean` maps (N, C, H, W) images of any size to denoised
    ones, every channel through the one grayscale network (RGB in the opponent colour space when
    the architecture says so); `encode` does the same on rows of C x H x W pixels, and `decode`
    is the identity, so the one objective scores L(x, g(f(corrupt(x))))."""

    def __init__(self, arch: Architecture) -> None:
        assert arch.residual is not None and arch.image_shape is not None
        spec = arch.residual
        super().__init__(spec["blocks"], spec["channels"], spec["scale"])
        self.arch = arch
        self.colour = spec["colour"]
        self.register_buffer("opponent", torch.tensor(OPPONENT), persistent=False)
        self.register_buffer("offset", torch.tensor(OPPONENT_OFFSET), persistent=False)
        self.reset_parameters()

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        """Denoised (N, C, H, W) from noisy (N, C, H, W); H and W multiples of `scale`."""
        n, c, h, w = images.shape
        opponent = c == 3 and self.colour == "opponent"
        if opponent:
            images = torch.einsum("ij,njhw->nihw", self.opponent, images)
            images = images + self.offset[None, :, None, None]
        planes = images.reshape(n * c, 1, h, w).contiguous(memory_format=torch.channels_last)
        out = self(planes).reshape(n, c, h, w)
        if opponent:
            out = out - self.offset[None, :, None, None]
            out = torch.einsum("ij,njhw->nihw", torch.linalg.inv(self.opponent), out)
        return out

    def images(self, rows: torch.Tensor) -> torch.Tensor:
        """Rows of C x H x W pixels as (N, C, H, W) images of the training crop's size."""
        assert self.arch.image_shape is not None
        return rows.reshape(-1, *self.arch.image_shape)

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The denoised rows: the code of a residual denoiser is the clean image itself."""
        return self.clean(self.images(x)).reshape(len(x), -1)

    def decode(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return h


class Unchanged(nn.Module):
    """The denoiser that changes nothing: the baseline a denoiser's loss is compared with."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch

    def images(self, rows: torch.Tensor) -> torch.Tensor:
        assert self.arch.image_shape is not None
        return rows.reshape(-1, *self.arch.image_shape)

    def clean(self, images: torch.Tensor) -> torch.Tensor:
        return images


def architecture_from_dict(arch: Any) -> dict[str, int]:
    """The constructor arguments a weights file declares, every field checked."""
    if not isinstance(arch, dict) or arch.get("type") != ARCHITECTURE:
        raise CheckpointError("unknown denoiser architecture; upgrade aecli")
    if set(arch) != {"type", *LIMITS}:
        raise CheckpointError("the denoiser architecture has unexpected fields")
    return {key: check_int(arch[key], key, low, high) for key, (low, high) in LIMITS.items()}
