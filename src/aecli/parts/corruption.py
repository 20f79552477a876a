"""corrupt(x): the input noise of denoising autoencoders, drawn fresh for every batch."""

from __future__ import annotations

import torch

from aecli.parts.noise_spec import parse_noises


class Corruption:
    """Gaussian noise, masking to zero, salt-and-pepper, or Poisson noise; terms joined by '+'
    apply in turn (poisson:PEAK+gaussian:SIGMA is the Poisson-Gaussian noise of photon-limited
    images).

    Gaussian levels are in `unit`s of the model-space values: 1 for tables (standardised units),
    255 for images (levels on the 0-255 scale, pixels in [0, 1]). A range LOW-HIGH draws each
    row's level uniformly, so the model learns to work without being told the level.
    Masking sets a cell to 0: its column's training mean once standardised ("off" for a Bernoulli
    column or a pixel); a category's one-hot block is masked whole (all slots 0), as when the
    value is missing. Salt-and-pepper sets a cell to its column's training minimum or maximum
    (black or white for pixels) with equal chance. Poisson noise counts photons: a value x in
    [0, 1] becomes Poisson(PEAK * x) / PEAK (a PEAK range draws each row's). Each call draws new
    noise from `gen`.
    """

    def __init__(
        self,
        spec: str,
        low: torch.Tensor,
        high: torch.Tensor,
        unit: float = 1.0,
        widths: list[int] | None = None,
    ) -> None:
        self.spec = spec
        # a table's slots per column: masking hides a category's whole one-hot block at once
        self.widths = torch.tensor(widths) if widths and max(widths) > 1 else None
        terms = parse_noises(spec)
        self.name, level_low, level_high = terms[0]
        scale = 1.0 / unit if self.name == "gaussian" else 1.0
        self.level_low, self.level_high = level_low * scale, level_high * scale
        self.low, self.high = low, high
        rest = "+".join(spec.split("+")[1:])
        self.then = Corruption(rest, low, high, unit, widths) if rest else None

    def _levels(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor | float:
        if self.level_low == self.level_high:
            return self.level_low
        u = torch.rand(len(x), 1, generator=gen, dtype=x.dtype).to(x.device)
        return self.level_low + (self.level_high - self.level_low) * u

    def __call__(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        out = self._one(x, gen)
        return out if self.then is None else self.then(out, gen)

    def _one(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        level = self._levels(x, gen)
        if self.name == "gaussian":
            return x + level * torch.randn(x.shape, generator=gen, dtype=x.dtype).to(x.device)
        if self.name == "poisson":
            counts = torch.poisson((x.clamp(min=0) * level).cpu(), generator=gen)
            return counts.to(x.device) / level
        if self.name == "mask":
            if self.widths is None:
                return x.masked_fill(torch.rand(x.shape, generator=gen).to(x.device) < level, 0.0)
            hit = torch.rand(len(x), len(self.widths), generator=gen).to(x.device) < level
            return x.masked_fill(hit.repeat_interleave(self.widths.to(x.device), dim=1), 0.0)
        hit = torch.rand(x.shape, generator=gen).to(x.device) < level
        salt = torch.rand(x.shape, generator=gen).to(x.device) < 0.5
        high, low = self.high.to(x.device), self.low.to(x.device)
        extreme = torch.where(salt, high.expand_as(x), low.expand_as(x))
        return torch.where(hit, extreme, x)
