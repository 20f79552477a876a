"""corrupt(x): the input noise of denoising autoencoders, drawn fresh for every batch."""

from __future__ import annotations

import torch

from aecli.parts.noise_spec import parse_noise


class Corruption:
    """Gaussian noise, masking to zero, or salt-and-pepper.

    Gaussian levels are in `unit`s of the model-space values: 1 for tables (standardised units),
    255 for images (levels on the 0-255 scale, pixels in [0, 1]). A range LOW-HIGH draws each
    row's level uniformly, so the model learns to work without being told the level.
    Masking sets a cell to 0: its column's training mean once standardised ("off" for a Bernoulli
    column or a pixel). Salt-and-pepper sets a cell to its column's training minimum or maximum
    (black or white for pixels) with equal chance. Each call draws new noise from `gen`.
    """

    def __init__(self, spec: str, low: torch.Tensor, high: torch.Tensor, unit: float = 1.0) -> None:
        self.spec = spec
        self.name, level_low, level_high = parse_noise(spec)
        scale = 1.0 / unit if self.name == "gaussian" else 1.0
        self.level_low, self.level_high = level_low * scale, level_high * scale
        self.low, self.high = low, high

    def _levels(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor | float:
        if self.level_low == self.level_high:
            return self.level_low
        u = torch.rand(len(x), 1, generator=gen, dtype=x.dtype)
        return self.level_low + (self.level_high - self.level_low) * u

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        level = self._levels(x, gen)
        if self.name == "gaussian":
            return x + level * torch.randn(x.shape, generator=gen, dtype=x.dtype)
        hit = torch.rand(x.shape, generator=gen) < level
        if self.name == "mask":
            return x.masked_fill(hit, 0.0)
        salt = torch.rand(x.shape, generator=gen) < 0.5
        extreme = torch.where(salt, self.high.expand_as(x), self.low.expand_as(x))
        return torch.where(hit, extreme, x)
