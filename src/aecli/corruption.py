"""corrupt(x): the input noise of denoising autoencoders, drawn fresh for every batch."""

from __future__ import annotations

import torch

from aecli.noise_spec import parse_noise


class Corruption:
    """Gaussian noise (standardised units), masking to zero, or salt-and-pepper.

    Masking sets a cell to 0: its column's training mean once standardised ("off" for a Bernoulli
    column). Salt-and-pepper sets a cell to its column's training minimum or maximum with equal
    chance. Each call draws new noise from `gen`.
    """

    def __init__(self, spec: str, low: torch.Tensor, high: torch.Tensor) -> None:
        self.spec = spec
        self.name, self.level = parse_noise(spec)
        self.low, self.high = low, high

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if self.name == "gaussian":
            return x + self.level * torch.randn(x.shape, generator=gen, dtype=x.dtype)
        hit = torch.rand(x.shape, generator=gen) < self.level
        if self.name == "mask":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand(x.shape, generator=gen) < 0.5
        extreme = torch.where(salt, self.high.expand_as(x), self.low.expand_as(x))
        return torch.where(hit, extreme, x)
