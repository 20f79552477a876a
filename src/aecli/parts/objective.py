"""The one equation every kind trains on:

    loss(x) = NLL(x | g(f(corrupt(x)))) + sum of penalty terms Omega(h, x)

The NLL always scores the clean x, whatever corrupt() fed the encoder. For the deterministic kinds
it is the per-cell squared error (a Gaussian with fixed variance, constants dropped; cross-entropy
for Bernoulli and categorical columns), averaged over present cells. For the VAE the encoder is
stochastic, h = z ~ q(z | x), the NLL is exact nats summed over features, and the KL to the prior
is one penalty among the others (penalties.py): the loss is then -ELBO per row. Which parts a
kind uses is decided in one place, assemble.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from aecli.parts.corruption import Corruption
from aecli.parts.likelihoods import Likelihood
from aecli.parts.penalties import Code, Penalty

if TYPE_CHECKING:
    from aecli.parts.networks import AutoencoderNet


@dataclass
class Terms:
    """The parts of one evaluation of the objective."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    code: torch.Tensor
    kl: torch.Tensor | None = None  # a VAE's KL(q(z | x) || N(0, I)), mean per row, unweighted


class Objective:
    """NLL of the clean rows under the decoder, from the code of corrupted rows, plus penalties."""

    def __init__(
        self,
        likelihood: Likelihood,
        corrupt: Corruption | None = None,
        penalties: Sequence[Penalty] = (),
    ) -> None:
        self.likelihood = likelihood
        self.corrupt = corrupt
        self.penalties = tuple(penalties)
        self.epoch = 1  # set by the training loop; drives the KL warm-up
        # Whether batches may hold missing cells (NaN). The training loop sets it once from its
        # data: on complete tables that saves three tensor operations and a sync per batch.
        self.may_have_missing = True

    @property
    def needs_input_grad(self) -> bool:
        return any(p.needs_input_grad for p in self.penalties)

    def __call__(self, net: AutoencoderNet, batch: torch.Tensor, gen: torch.Generator) -> Terms:
        """The loss on a batch; a conditional model's batch carries the one-hot y after x."""
        d = net.arch.n_features
        x, y = (batch[:, :d], batch[:, d:]) if net.arch.n_condition else (batch, None)
        present = self.likelihood.present(x) if self.may_have_missing else None
        x_in = self.corrupt(x, gen) if self.corrupt is not None else x
        if self.needs_input_grad:
            x_in = x_in.detach().requires_grad_(True)
        kl = None
        if net.arch.variational:
            from aecli.parts.variational import elbo_terms

            nll, kl, h = elbo_terms(net, self.likelihood, x_in, x, gen, y, present)
            recon = nll.mean()
        else:
            h = net.encode(x_in, y, complete=not self.may_have_missing)
            target = x.nan_to_num(0.0) if self.may_have_missing else x
            cells = self.likelihood.column_losses(net.decode(h, y), target)
            if present is None:
                recon = cells.mean()
            else:
                recon = (cells * present).sum() / present.sum().clamp(min=1)
        loss = recon
        if self.penalties:
            code = Code(h, x_in, net, kl, net.training, self.epoch)
            for penalty in self.penalties:
                loss = loss + penalty(code)
        return Terms(loss, recon, h, None if kl is None else kl.mean())
