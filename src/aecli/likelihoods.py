"""Decoder likelihoods p(x | z), per feature, shared by every kind (one code path).

- "gaussian": a Gaussian on the standardised feature. The deterministic kinds use it with a fixed
  variance, where the negative log-likelihood is the squared error up to scale and a constant; the
  VAE learns one variance per feature and scores exact nats.
- "bernoulli": for features in [0, 1] (pixels, binary columns); the decoder outputs logits.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

LIKELIHOODS = ("gaussian", "bernoulli")
LOG_2PI = math.log(2 * math.pi)


class Likelihood:
    """The per-feature likelihood of one table: which columns are Gaussian, which Bernoulli."""

    def __init__(self, kinds: list[str] | tuple[str, ...]) -> None:
        self.kinds = tuple(kinds)
        bern = [i for i, k in enumerate(self.kinds) if k == "bernoulli"]
        self.bernoulli = torch.tensor(bern, dtype=torch.long) if bern else None
        self.all_gaussian = self.bernoulli is None
        mask = torch.zeros(len(self.kinds), dtype=torch.bool)
        if bern:
            mask[self.bernoulli] = True
        self.is_bernoulli = mask

    def squared_error(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Per-cell loss of the deterministic kinds: squared error, or cross-entropy in nats."""
        if self.all_gaussian:
            return (out - x).pow(2)
        bce = F.binary_cross_entropy_with_logits(out, x.clamp(0, 1), reduction="none")
        return torch.where(self.is_bernoulli, bce, (out - x).pow(2))

    def nll(
        self,
        out: torch.Tensor,
        x: torch.Tensor,
        logvar: torch.Tensor,
        present: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """-log p(x | decoder output), in nats, summed over the (present) features, per row."""
        cells = 0.5 * (LOG_2PI + logvar + (x - out).pow(2) * torch.exp(-logvar))
        if not self.all_gaussian:
            bce = F.binary_cross_entropy_with_logits(out, x.clamp(0, 1), reduction="none")
            cells = torch.where(self.is_bernoulli, bce, cells)
        if present is not None:
            cells = cells * present
        return cells.sum(dim=-1)

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x | decoder output]: the output itself, or the Bernoulli probability."""
        if self.all_gaussian:
            return out
        return torch.where(self.is_bernoulli, torch.sigmoid(out), out)
