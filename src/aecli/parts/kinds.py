"""The registry of kinds. A kind is a preset of the four parts of the one equation

    loss(x) = NLL(x | decoder(encoder(corrupt(x)))) + sum of code penalties Omega(h, x)

so adding a kind is one line here (plus, for a new part, one small module). No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from aecli.errors import UserError


class KindChoices(Protocol):
    """What the registry reads of the training options (`aecli.options.TrainOptions` is one):
    the kind, the options its preset may fill (read by name) and those only some kinds take."""

    kind: str
    init: str | None
    lr: float | None
    noise: Any
    self_supervised: bool


@dataclass(frozen=True)
class Kind:
    name: str
    summary: str
    preset: dict[str, Any] = field(default_factory=dict)
    fixed: frozenset[str] = frozenset()  # preset entries the user cannot override
    linear: bool = False  # one linear map each way, no hidden layers
    overcomplete_ok: bool = False  # a code wider than the input is fine (a penalty stops copying)
    variational: bool = False  # stochastic encoder q(z | x), KL penalty, a true likelihood
    residual: bool = False  # an image denoiser with no bottleneck: no codes to encode or sample


_KINDS = [
    Kind(
        "undercomplete",
        "MLP encoder and decoder around a PCA skip path; starts at PCA and learns the rest.",
        preset={"init": "pca"},
    ),
    Kind(
        "linear",
        "One linear map each way, started at PCA and trained on (--init random: converges to it).",
        preset={"init": "pca", "hidden": (), "batch_size": 4096, "lr": 3e-3},
        fixed=frozenset({"hidden"}),
        linear=True,
    ),
    Kind(
        "sparse",
        "Penalises the code: L1 of soft-thresholded h, or KL(rho || mean activation) of sigmoid h.",
        preset={"sparsity": "l1", "init": "pca", "lr": 3e-3},
        overcomplete_ok=True,
    ),
    Kind(
        "denoising",
        "Reconstructs the clean row from a corrupted copy drawn fresh every batch.",
        preset={"noise": "gaussian:0.5"},
    ),
    Kind(
        "contractive",
        "Penalises the squared Frobenius norm of the encoder's Jacobian.",
        preset={"contractive_weight": 0.01},
    ),
    Kind(
        "vae",
        "Variational autoencoder: Gaussian q(z|x), prior N(0, I), loss -ELBO with beta * KL.",
        preset={"init": "random", "beta": 1.0},
        variational=True,
    ),
    Kind(
        "denoiser",
        "Images: a residual convolutional denoiser (no bottleneck; it predicts the noise), "
        "trained on random crops; `denoise` cleans images of any size.",
        preset={
            "noise": "gaussian:0-50",
            "init": "random",
            "patch": 64,
            "batch_size": 16,
            "clip_grad": 1.0,
        },
        overcomplete_ok=True,
        residual=True,
    ),
]

KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
SELF_SUPERVISED_METHOD = "neighbor2neighbor"  # measured above blind-spot (benchmarks/README.md)
FINE_TUNE_LR = 3e-4  # a trained network takes smaller steps (1e-3 undid the photo model at first)


def preset_for(options: KindChoices) -> dict[str, Any]:
    """The kind's preset for every option left at None (and those the kind fixes); a denoiser
    learning from noisy images draws no noise, and one fine-tuning a model takes smaller steps."""
    kind = KINDS[options.kind]
    filled = {
        name: value
        for name, value in kind.preset.items()
        if getattr(options, name) is None or name in kind.fixed
    }
    if options.self_supervised:  # the images bring their own noise
        filled.pop("noise", None)
        if options.self_supervised_method is None:
            filled["self_supervised_method"] = SELF_SUPERVISED_METHOD
    if kind.residual and options.init not in (None, "random") and options.lr is None:
        filled["lr"] = FINE_TUNE_LR
    return filled


def check_kind_options(options: KindChoices) -> None:
    """The options only a denoiser takes, and the --init values each kind accepts."""
    kind = options.kind
    if not KINDS[kind].residual:
        given = [
            "--" + name.replace("_", "-")
            for name in ("width", "depth", "colour", "self_supervised", "self_supervised_method")
            if getattr(options, name)
        ]
        if given:
            raise UserError(f"{given[0]} is for --kind denoiser, not --kind {kind}")
        if options.init not in (None, "pca", "random"):
            raise UserError(
                f"--init {options.init!r}: --kind {kind} starts from 'pca' or 'random'; "
                "fine-tuning a model (--init photo) is for --kind denoiser"
            )
    elif options.init == "pca":
        raise UserError(
            "--init pca is for the bottleneck kinds; a denoiser starts from 'random' or "
            "fine-tunes a model (--init photo)"
        )
    elif options.self_supervised and options.noise is not None:
        raise UserError(
            "--self-supervised learns from the noise already in the images; leave out --noise"
        )
    elif options.self_supervised_method is not None and not options.self_supervised:
        raise UserError("--self-supervised-method is for --self-supervised training")
