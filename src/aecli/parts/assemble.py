"""The one place where a kind's preset becomes parts: (architecture, corruption, likelihood,
penalties). Reading what `--kind sparse` means takes kinds.py (its preset of options) and this
file (how options become parts); nothing else decides by kind."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from aecli.errors import UserError
from aecli.parts.architecture import Architecture
from aecli.parts.corruption import Corruption
from aecli.parts.denoiser_objective import DenoiserObjective
from aecli.parts.kinds import KINDS
from aecli.parts.likelihoods import Likelihood
from aecli.parts.noise_spec import is_masking
from aecli.parts.objective import Objective
from aecli.parts.penalties import Contractive, KLSparsity, L1Sparsity, Penalty, PriorKL

if TYPE_CHECKING:
    from aecli.options import TrainOptions

CODE_ACTIVATION = {"kl": "sigmoid", "l1": "shrink"}  # sparsity penalty -> code activation
DENOISER = {"depth": 6, "width": 48, "colour": "opponent"}  # a new denoiser's defaults


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


def architecture(
    options: TrainOptions, data: DataShape, latent_dim: int, like: Architecture | None = None
) -> Architecture:
    """The network a kind's resolved options call for on this data (a denoiser: like the
    model it fine-tunes, if any)."""
    kind = KINDS[options.kind]
    if kind.residual:
        return residual_architecture(options, data, like)
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


def residual_architecture(
    options: TrainOptions, data: DataShape, like: Architecture | None = None
) -> Architecture:
    """A residual denoiser for crops of the data's shape: --depth, --width and --colour, or
    those of the model it starts from (`like`, for --init MODEL)."""
    if data.image_shape is None:
        raise UserError(
            f"--kind {options.kind} is for images; give a folder, a glob or an image file"
        )
    spec: dict[str, Any] = {**DENOISER, "scale": 2}
    if like is not None and like.residual is not None:
        r = like.residual
        spec = {"depth": r["blocks"], "width": r["channels"], "colour": r["colour"]}
        spec["scale"] = r["scale"]
    for name in ("depth", "width", "colour"):
        asked = getattr(options, name)
        if asked is not None and like is not None and asked != spec[name]:
            raise UserError(
                f"--{name} {asked} differs from the --init model's {spec[name]}; leave it out "
                "to fine-tune that network"
            )
        if asked is not None:
            spec[name] = asked
    if data.image_shape[1] % spec["scale"] or data.image_shape[2] % spec["scale"]:
        raise UserError(f"--patch must be a multiple of {spec['scale']} for --kind denoiser")
    return Architecture(
        n_features=data.n_features,
        latent_dim=spec["width"],
        hidden=(),
        activation="relu",
        image_shape=data.image_shape,
        residual={
            "blocks": spec["depth"],
            "channels": spec["width"],
            "scale": spec["scale"],
            "colour": spec["colour"],
        },
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


def objective(options: TrainOptions, data: DataShape) -> Objective | DenoiserObjective:
    """The loss: the likelihood of the data's columns, the corruption, the penalties."""
    corrupt = None
    if options.noise:
        corrupt = Corruption(options.noise, data.low, data.high, data.noise_unit, data.widths)
    if KINDS[options.kind].residual:
        return DenoiserObjective(corrupt, options.self_supervised_method)
    likelihood = Likelihood(data.likelihoods, data.widths)
    return Objective(likelihood, corrupt, penalties(options))
