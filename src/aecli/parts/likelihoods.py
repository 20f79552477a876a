"""Decoder likelihoods p(x | z), per column, shared by every kind (one code path).

- "gaussian": a Gaussian on the standardised feature. The deterministic kinds use it with a fixed
  variance, where the negative log-likelihood is the squared error up to scale and a constant; the
  VAE learns one variance per feature and scores exact nats.
- "bernoulli": for features in [0, 1] (pixels, binary columns); the decoder outputs logits.
- "categorical": a one-hot column; the decoder outputs one logit per category (softmax).

Losses are per column, so a categorical with 50 categories weighs as much as one number.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2 * math.pi)


def student_t_nll(residual: torch.Tensor, logvar: torch.Tensor, dof: float) -> torch.Tensor:
    """-log of the Student-t density with `dof` degrees of freedom and scale exp(logvar / 2)
    at `residual`, in nats, cell by cell."""
    const = math.lgamma(dof / 2) - math.lgamma((dof + 1) / 2) + 0.5 * math.log(dof * math.pi)
    spread = residual.pow(2) * torch.exp(-logvar) / dof
    return const + 0.5 * logvar + 0.5 * (dof + 1) * torch.log1p(spread)


class Likelihood:
    """The likelihood of one table's model-space rows: a kind and a slot range per column."""

    def __init__(self, kinds: list[str] | tuple[str, ...], widths: list[int] | None = None) -> None:
        self.kinds = tuple(kinds)
        widths = widths or [1] * len(self.kinds)
        starts = [0, *itertools.accumulate(widths)][:-1]  # linear: an image has 10^5 columns
        self.starts = torch.tensor(starts, dtype=torch.long)
        self.groups = [
            (s, s + w)
            for s, w, k in zip(starts, widths, self.kinds, strict=True)
            if k == "categorical"
        ]
        scalar = [s for s, k in zip(starts, self.kinds, strict=True) if k != "categorical"]
        self.scalar = torch.tensor(scalar, dtype=torch.long)
        bern = torch.zeros(sum(widths), dtype=torch.bool)
        bern[[s for s, k in zip(starts, self.kinds, strict=True) if k == "bernoulli"]] = True
        self.is_bernoulli = bern
        self.all_gaussian = all(k == "gaussian" for k in self.kinds)
        self.simple = not self.groups  # one slot per column

    def to(self, device: torch.device) -> Likelihood:
        """Keep the index tensors on the device the network computes on."""
        self.starts, self.scalar = self.starts.to(device), self.scalar.to(device)
        self.is_bernoulli = self.is_bernoulli.to(device)
        return self

    def _scalar_cells(
        self, out: torch.Tensor, x: torch.Tensor, gauss: torch.Tensor
    ) -> torch.Tensor:
        if self.all_gaussian:
            return gauss
        bce = F.binary_cross_entropy_with_logits(out, x.clamp(0, 1), reduction="none")
        return torch.where(self.is_bernoulli, bce, gauss)

    def _per_column(self, cells: torch.Tensor, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """(rows, columns): scalar columns' cells and each categorical's cross-entropy."""
        if self.simple:
            return cells
        columns = torch.empty(len(x), len(self.kinds), dtype=out.dtype, device=out.device)
        index = 0
        for j, kind in enumerate(self.kinds):
            start = int(self.starts[j])
            if kind == "categorical":
                lo, hi = self.groups[index]
                index += 1
                columns[:, j] = -(x[:, lo:hi] * F.log_softmax(out[:, lo:hi], dim=1)).sum(1)
            else:
                columns[:, j] = cells[:, start]
        return columns

    def column_losses(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The deterministic kinds' loss per row and column: squared error (fixed-variance
        Gaussian), or cross-entropy in nats for Bernoulli and categorical columns."""
        return self._per_column(self._scalar_cells(out, x, (out - x).pow(2)), out, x)

    def nll(
        self,
        out: torch.Tensor,
        x: torch.Tensor,
        logvar: torch.Tensor,
        present: torch.Tensor | None = None,
        dof: float | None = None,
    ) -> torch.Tensor:
        """-log p(x | decoder output), in nats, summed over the (present) columns, per row.
        With `dof`, the "gaussian" columns are Student-t with that many degrees of freedom
        and scale exp(logvar / 2): the same centre, heavier tails."""
        if dof is None:
            gauss = 0.5 * (LOG_2PI + logvar + (x - out).pow(2) * torch.exp(-logvar))
        else:
            gauss = student_t_nll(x - out, logvar, dof)
        columns = self._per_column(self._scalar_cells(out, x, gauss), out, x)
        if present is not None:
            columns = columns * present
        return columns.sum(dim=-1)

    def present(self, x: torch.Tensor) -> torch.Tensor | None:
        """Which cells (rows x columns) are present; None when none is missing."""
        missing = torch.isnan(x if self.simple else x[:, self.starts])
        return ~missing if missing.any() else None

    def mean(self, out: torch.Tensor) -> torch.Tensor:
        """E[x | decoder output]: the output itself, Bernoulli probabilities, softmax groups."""
        if self.all_gaussian:
            return out
        mean = torch.where(self.is_bernoulli, torch.sigmoid(out), out)
        for lo, hi in self.groups:
            mean[:, lo:hi] = torch.softmax(out[:, lo:hi], dim=1)
        return mean
