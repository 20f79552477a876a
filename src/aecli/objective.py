"""The one equation every kind trains on:

    loss(x) = NLL(x | g(f(corrupt(x)))) + sparsity_weight * Omega_sparse(h)
              + contractive_weight * ||d f / d x||_F^2

The likelihood is a Gaussian with fixed unit variance on standardised features, i.e. the mean
squared error per cell (constants dropped).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from aecli.corruption import Corruption
from aecli.networks import AutoencoderNet
from aecli.options import TrainOptions
from aecli.penalties import jacobian_frobenius_sq, kl_sparsity, l1_sparsity


@dataclass
class Terms:
    """The parts of one evaluation of the objective."""

    loss: torch.Tensor
    reconstruction: torch.Tensor
    code: torch.Tensor


class Objective:
    def __init__(self, options: TrainOptions, low: torch.Tensor, high: torch.Tensor) -> None:
        self.corrupt = Corruption(options.noise, low, high) if options.noise else None
        self.sparsity = options.sparsity
        self.sparsity_weight = options.sparsity_weight or 0.0
        self.rho = options.target_rho
        self.contractive_weight = options.contractive_weight or 0.0

    @property
    def needs_input_grad(self) -> bool:
        return self.contractive_weight > 0

    def __call__(self, net: AutoencoderNet, x: torch.Tensor, gen: torch.Generator) -> Terms:
        x_in = self.corrupt(x, gen) if self.corrupt is not None else x
        if self.needs_input_grad:
            x_in = x_in.detach().requires_grad_(True)
        h = net.encode(x_in)
        recon = (net.decode(h) - x).pow(2).mean()
        loss = recon
        if self.sparsity == "l1":
            loss = loss + self.sparsity_weight * l1_sparsity(h)
        elif self.sparsity == "kl":
            loss = loss + self.sparsity_weight * kl_sparsity(h, self.rho)
        if self.needs_input_grad:
            loss = loss + self.contractive_weight * jacobian_frobenius_sq(net, x_in, h)
        return Terms(loss, recon, h)
