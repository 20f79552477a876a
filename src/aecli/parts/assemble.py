"""The one place where a kind's preset becomes parts: (architecture, corruption, likelihood,
penalties). Reading what `--kind sparse` means takes kinds.py (its preset of options) and this
file (how options become parts); nothing else decides by kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from aecli.parts.architecture import Architecture
from aecli.parts.corruption import Corruption
from aecli.parts.kinds import KINDS
from aecli.parts.likelihoods import Likelihood
from aecli.parts.noise_spec import is_masking
from aecli.parts.objective import Objective
from aecli.parts.penalties import Contractive, KLSparsity, L1Sparsity, Penalty, PriorKL

if TYPE_CHECKING:
    from aecli.options import TrainOptions

CODE_ACTIVATION = {"kl": "sigmoid", "l1": "shrink"}  # sparsity penalty -> code activation


@dataclass
class DataShape:
    """What the parts need to know of the data (from the data adapter): widths, the output
    columns' likelihoods, the body's hidden sizes, value ranges and the noise unit."""

    n_features: int
    n_condition: int
    likelihoods: list[str]
    widths: list[int]
    body: tuple[int, ...]
    image_shape: tuple[int, int, int] | None
    has_missing: bool
    low: torch.Tensor
    high: torch.Tensor
    noise_unit: float


def architecture(options: TrainOptions, data: DataShape, latent_dim: int) -> Architecture:
    """The network a kind's resolved options call for on this data."""
    kind = KINDS[options.kind]
    likelihood = Likelihood(data.likelihoods, data.widths)
    masks = data.has_missing or is_masking(options.noise)
    return Architecture(
        n_features=data.n_features,
        n_condition=data.n_condition,
        latent_dim=latent_dim,
        hidden=() if kind.linear else data.body,
        activation=options.activation,
        code_activation=CODE_ACTIVATION.get(options.sparsity or ""),
        variational=kind.variational,
        learned_variance=kind.variational and not all(likelihood.is_bernoulli.tolist()),
        mask_inputs=masks,
        image_shape=data.image_shape,
    )


def penalties(options: TrainOptions) -> list[Penalty]:
    """The penalty terms, in the order the objective adds them."""
    out: list[Penalty] = []
    if KINDS[options.kind].variational:
        out.append(PriorKL(options.beta if options.beta is not None else 1.0, options.kl_warmup))
    if options.sparsity == "l1":
        out.append(L1Sparsity(options.sparsity_weight or 0.0))
    elif options.sparsity == "kl":
        out.append(KLSparsity(options.sparsity_weight or 0.0, options.target_rho))
    if options.contractive_weight:
        out.append(Contractive(options.contractive_weight))
    return out


def objective(options: TrainOptions, data: DataShape) -> Objective:
    """The loss: the likelihood of the data's columns, the corruption, the penalties."""
    corrupt = None
    if options.noise:
        corrupt = Corruption(options.noise, data.low, data.high, data.noise_unit)
    likelihood = Likelihood(data.likelihoods, data.widths)
    return Objective(likelihood, corrupt, penalties(options))
