"""The one equation every kind trains on:

    loss(x) = NLL(x | g(f(corrupt(x)))) + sparsity_weight * Omega_sparse(h)
              + contractive_weight * ||d f / d x||_F^2

The NLL always scores the clean x, whatever corrupt() fed the encoder. The code activation follows
the sparsity penalty (networks.py): a soft threshold for L1, so that codes can be exactly zero, and
a sigmoid for KL, so that a unit's mean activation is a firing rate.

For the deterministic kinds the NLL is the per-cell squared error (a Gaussian with fixed variance,
constants dropped; cross-entropy for Bernoulli features), averaged over cells. For the VAE the
encoder is stochastic, h = z ~ q(z | x), the NLL is exact nats summed over features, and the
penalty is beta * KL(q(z | x) || N(0, I)) (beta ramped up from 0 over --kl-warmup epochs):
the loss is then -ELBO per row.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aecli.options import TrainOptions
from aecli.parts.corruption import Corruption
from aecli.parts.likelihoods import Likelihood
from aecli.parts.networks import AutoencoderNet
from aecli.parts.penalties import jacobian_frobenius_sq, kl_sparsity, l1_sparsity


@dataclass
class Terms:
    """The parts of one evaluation of the objective."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    code: torch.Tensor


class Objective:
    def __init__(
        self,
        options: TrainOptions,
        low: torch.Tensor,
        high: torch.Tensor,
        likelihood: Likelihood | None = None,
        noise_unit: float = 1.0,
    ) -> None:
        self.likelihood = likelihood or Likelihood(["gaussian"] * len(low))
        self.beta = options.beta if options.beta is not None else 1.0
        self.warmup = options.kl_warmup
        self.epoch = 1  # set by the training loop; drives the KL warm-up
        self.corrupt = Corruption(options.noise, low, high, noise_unit) if options.noise else None
        self.sparsity = options.sparsity
        self.sparsity_weight = options.sparsity_weight or 0.0
        self.rho = options.target_rho
        self.contractive_weight = options.contractive_weight or 0.0
        # Whether batches may hold missing cells (NaN). The training loop sets it once from its
        # data: on complete tables that saves three tensor operations and a sync per batch.
        self.may_have_missing = True

    def beta_now(self, training: bool) -> float:
        """beta, linearly annealed from 0 during the first --kl-warmup epochs of training;
        evaluation always scores the full objective."""
        if not training or not self.warmup:
            return self.beta
        return self.beta * min(1.0, (self.epoch - 1) / self.warmup)

    @property
    def needs_input_grad(self) -> bool:
        return self.contractive_weight > 0

    def __call__(self, net: AutoencoderNet, batch: torch.Tensor, gen: torch.Generator) -> Terms:
        """The loss on a batch; a conditional model's batch carries the one-hot y after x."""
        d = net.arch.n_features
        x, y = (batch[:, :d], batch[:, d:]) if net.arch.n_condition else (batch, None)
        present = None
        if self.may_have_missing:
            present = self.likelihood.present(x)  # missing cells: left out of the loss
        x_in = self.corrupt(x, gen) if self.corrupt is not None else x
        if self.needs_input_grad:
            x_in = x_in.detach().requires_grad_(True)
        if net.arch.variational:
            from aecli.parts.variational import elbo_terms

            nll, kl, h = elbo_terms(net, self.likelihood, x_in, x, gen, y, present)
            recon = nll.mean()
            loss = recon + self.beta_now(net.training) * kl.mean()
        else:
            h = net.encode(x_in, y)
            target = x.nan_to_num(0.0) if self.may_have_missing else x
            cells = self.likelihood.column_losses(net.decode(h, y), target)
            if present is None:
                recon = cells.mean()
            else:
                recon = (cells * present).sum() / present.sum().clamp(min=1)
            loss = recon
        if self.sparsity == "l1":
            loss = loss + self.sparsity_weight * l1_sparsity(h)
        elif self.sparsity == "kl":
            loss = loss + self.sparsity_weight * kl_sparsity(h, self.rho)
        if self.needs_input_grad:
            loss = loss + self.contractive_weight * jacobian_frobenius_sq(net, x_in, h)
        return Terms(loss, recon, h)
