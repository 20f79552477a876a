"""Training options: one declaration that the CLI flags, the checkpoint and `inspect` all read.

Each field's metadata carries its help text, flag and valid range, so `aecli train --help`, option
validation and the checkpoint never drift apart. No torch here: the CLI imports this at start-up.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from aecli.errors import UserError
from aecli.option_values import coerced, describe, parse_int_list  # noqa: F401
from aecli.vocabulary import ACTIVATIONS, LIKELIHOODS, MAX_COMPONENTS  # noqa: F401


def opt(
    default: Any,
    help: str,
    *,
    short: str | None = None,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] | None = None,
    cli: str = "value",
    panel: str = "Model",
) -> Any:
    """A dataclass field with the metadata the CLI and the validator need.

    `cli` says how the flag is typed: "value" (the field's own type), "intlist" ("128,64"), or
    "multi" (a repeatable flag collected into a tuple). `panel` groups the flag in `--help`.
    """
    meta = {
        "help": help,
        "short": short,
        "low": low,
        "high": high,
        "choices": choices,
        "cli": cli,
        "panel": panel,
    }
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata=meta)
    return field(default=default, metadata=meta)


BASE_DEFAULTS: dict[str, Any] = {"init": "pca", "batch_size": 128, "lr": 1e-3}


def by_kind(name: str) -> str:
    """'by kind (128; linear: 4096)': an option's default and the kinds whose preset differs,
    read from the kind registry so that help text never restates a preset."""
    from aecli.parts.kinds import KINDS

    base = BASE_DEFAULTS.get(name)
    other: dict[Any, list[str]] = {}
    for kind in KINDS.values():
        if name in kind.preset and kind.preset[name] != base:
            other.setdefault(kind.preset[name], []).append(kind.name)
    parts = [f"{base:g}" if isinstance(base, float) else str(base)] if base is not None else []
    parts += [
        f"{', '.join(kinds)}: {value:g}"
        if isinstance(value, float)
        else f"{', '.join(kinds)}: {value}"
        for value, kinds in other.items()
    ]
    return f"by kind ({'; '.join(parts)})"


@dataclass
class TrainOptions:
    """Everything `train` needs besides the data. `None` means "the kind's default"."""

    kind: str = opt("undercomplete", "Model kind (see `aecli kinds`).")
    latent_dim: int | None = opt(
        None,
        "Code size K. Default for tables: min(8, columns - 1, half the one-hot-encoded width, "
        "the principal components that explain 95% of the training rows' variance), with "
        "--noise mask:P min(16, columns - 1); a category counts 1. Images: 16.",
        short="-k",
        low=1,
        high=100_000,
    )
    hidden: tuple[int, ...] = opt(
        (128, 64), "Hidden layer sizes of the encoder (the decoder mirrors them).", cli="intlist"
    )
    conv: tuple[int, ...] = opt(
        (32, 64),
        "Images: channels of the stride-2 convolutions of the encoder (the decoder mirrors them).",
        cli="intlist",
        panel="Images",
    )
    activation: str = opt("gelu", "Hidden-layer activation.", choices=tuple(ACTIVATIONS))
    epochs: int | None = opt(
        None,
        "Passes over the training rows. Default: as many as the --steps budget needs.",
        low=1,
        high=1_000_000,
        panel="Training",
    )
    steps: int | None = opt(
        None,
        "Optimiser-step budget used when --epochs is not given, honoured exactly (the last "
        "epoch stops part-way; at most 5000 epochs). Default: grows with the data: cycles of "
        "4000 steps, each a warm restart of the cosine schedule, while the last cycle lowered "
        "the best validation loss by at least 0.5% (at most 10 cycles); the summary says how "
        "many steps ran.",
        low=1,
        high=10_000_000,
        panel="Training",
    )
    batch_size: int | None = opt(
        None,
        f"Rows per optimiser step. Default: {by_kind('batch_size')}.",
        low=1,
        high=1_000_000,
        panel="Training",
    )
    lr: float | None = opt(
        None,
        f"Adam learning rate, cosine-decayed. Default: {by_kind('lr')}; a denoiser "
        "fine-tuning a model (--init): 0.0003.",
        low=1e-8,
        high=10,
        panel="Training",
    )
    weight_decay: float = opt(0.0, "AdamW weight decay.", low=0, high=10, panel="Training")
    val_fraction: float = opt(
        0.1,
        "Share of rows held out for validation and early stopping.",
        low=0,
        high=0.9,
        panel="Training",
    )
    patience: int = opt(
        50,
        "Stop after this many epochs without a better validation loss (0: never).",
        low=0,
        panel="Training",
    )
    seed: int = opt(
        0,
        "Random seed: the same data, options and seed give the same model.",
        low=0,
        panel="Training",
    )
    init: str | None = opt(
        None,
        "Start from the PCA solution ('pca') or at random ('random'); a denoiser can also "
        "fine-tune a built-in model (photo) or a denoiser checkpoint. "
        f"Default: {by_kind('init')}.",
        panel="Training",
    )
    sparsity: str | None = opt(
        None, "Sparsity penalty on the code: l1 or kl.", choices=("l1", "kl", "none")
    )
    sparsity_weight: float | None = opt(
        None, "Weight of the sparsity penalty (default by kind).", low=0, high=1e6
    )
    target_rho: float = opt(
        0.05, "Target mean activation of each code unit for --sparsity kl.", low=1e-6, high=0.999
    )
    noise: str | None = opt(
        None,
        "Input corruption for denoising: gaussian:SIGMA, mask:P or saltpepper:P.",
    )
    contractive_weight: float | None = opt(
        None,
        "Weight of the contractive penalty ||df/dx||_F^2 (default by kind).",
        low=0,
        high=1e6,
    )
    beta: float | None = opt(
        None,
        "Weight of the KL term of a VAE (beta-VAE); default 1.",
        low=0,
        high=1e6,
        panel="VAE and sampling",
    )
    kl_warmup: int = opt(
        0,
        "Epochs over which a VAE's beta ramps up linearly from 0.",
        low=0,
        high=1_000_000,
        panel="VAE and sampling",
    )
    likelihood: str = opt(
        "auto",
        "Decoder likelihood. auto: for a VAE, Bernoulli for columns in [0, 1] and Gaussian with "
        "a learned variance otherwise; for the other kinds, squared error.",
        choices=("auto", "gaussian", "bernoulli"),
    )
    condition: str | None = opt(
        None,
        "Column y to condition on (a category): the model learns p(x | z, y) and q(z | x, y); "
        "`sample --condition VALUE` generates for that value.",
        panel="Data",
    )
    code_density: str = opt(
        "gmm",
        "The density over the training codes that `sample --from codes` draws from: gmm (a "
        "Gaussian mixture) or kde (a variance-corrected kernel density, one kernel per code).",
        choices=("gmm", "kde"),
        panel="VAE and sampling",
    )
    components: int | None = opt(
        None,
        "Components of the gmm code density. Default: chosen by BIC among 1, 2, 4, 8 and 16.",
        low=1,
        high=MAX_COMPONENTS,
        panel="VAE and sampling",
    )
    ensemble: int = opt(1, "Tables: N networks (seeds S..S+N-1) for denoise.", low=1, high=32)
    clip_grad: float | None = opt(
        None, "Clip the gradient norm to this value.", low=1e-8, panel="Training"
    )
    drop: tuple[str, ...] = opt((), "Column to leave out (repeatable).", cli="multi", panel="Data")
    categorical: tuple[str, ...] = opt(
        (),
        "Treat this column as a category, e.g. integer codes (repeatable).",
        cli="multi",
        panel="Data",
    )
    id_col: tuple[str, ...] = opt(
        (),
        "An identifier column: not modelled, copied through (repeatable).",
        cli="multi",
        panel="Data",
    )
    sep: str | None = opt(
        None, "Tables: the field separator. Default: detected (, ; tab |).", panel="Data"
    )
    decimal: str | None = opt(
        None,
        "Tables: the decimal mark. Default: detected ('.', or ',' in a ';' file).",
        panel="Data",
    )
    thousands: str | None = opt(
        None,
        "Tables: the thousands separator in numbers such as 1,135.21. Default: none.",
        panel="Data",
    )
    encoding: str | None = opt(
        None,
        "Tables: the text encoding. Default: UTF-8 (a byte-order mark is read), else Latin-1.",
        panel="Data",
    )
    channels: int | None = opt(
        None,
        "Images: 1 (grayscale) or 3 (RGB). Default: 3 if any image has colour.",
        low=1,
        high=3,
        panel="Images",
    )
    image_size: str | None = opt(
        None,
        "Images: HEIGHTxWIDTH to train at. Default: the most common size (others resized).",
        panel="Images",
    )
    recursive: bool = opt(False, "Images: also read the folder's subfolders.", panel="Images")
    workers: int | None = opt(
        None,
        "Images: processes decoding images while training on a folder larger than memory. "
        "Default: one per core beyond the first, at most 4.",
        low=0,
        high=64,
        panel="Images",
    )
    patch: int | None = opt(
        None,
        "Images: train on random P x P crops of the images at their own size, drawn fresh for "
        "every batch (a denoiser of photos: `denoise` then cleans any size tile by tile). "
        "Default: whole images.",
        low=4,
        high=512,
        panel="Images",
    )
    width: int | None = opt(
        None,
        "Denoiser: feature channels of the residual network. Default: 48, or the --init model's.",
        low=1,
        high=256,
        panel="Images",
    )
    depth: int | None = opt(
        None,
        "Denoiser: residual blocks (two 3x3 convolutions each). Default: 6, or the --init model's.",
        low=1,
        high=32,
        panel="Images",
    )
    colour: str | None = opt(
        None,
        "Denoiser: RGB images in an opponent colour space (luma, two chroma; independent noise "
        "stays independent) or each channel on its own. Default: opponent, or the --init model's.",
        choices=("opponent", "channels"),
        panel="Images",
    )
    self_supervised: bool = opt(
        False,
        "Denoiser: learn from the noisy images alone, with no clean targets (see "
        "--self-supervised-method); --noise is then not used.",
        panel="Images",
    )
    self_supervised_method: str | None = opt(
        None,
        "Denoiser, --self-supervised: neighbor2neighbor (one random half-size sub-sample of "
        "each crop predicts another, every pixel a target) or blind-spot (hidden pixels, "
        "Noise2Void / Noise2Self). Default: neighbor2neighbor.",
        choices=("neighbor2neighbor", "blind-spot"),
        panel="Images",
    )
    threads: int | None = opt(
        None,
        "Torch CPU threads. Default: 1 for small models, more for large ones.",
        low=1,
        high=256,
        panel="Training",
    )

    def validate(self) -> TrainOptions:
        """Raise UserError naming the flag for any value out of range."""
        from aecli.parts.kinds import KINDS, check_kind_options

        if self.kind not in KINDS:
            raise UserError(
                f"--kind {self.kind!r} is not a known kind; choose one of: {', '.join(KINDS)}"
            )
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            meta = f.metadata
            flag = "--" + f.name.replace("_", "-")
            if value is None:
                continue
            if isinstance(value, float) and not math.isfinite(value):
                raise UserError(f"{flag} must be a finite number, not {value}")
            if meta["choices"] and value not in meta["choices"]:
                raise UserError(f"{flag} {value!r} is not one of: {', '.join(meta['choices'])}")
            if meta["low"] is not None and isinstance(value, int | float):
                if value < meta["low"]:
                    raise UserError(f"{flag} must be at least {meta['low']:g}, not {value}")
                if meta["high"] is not None and value > meta["high"]:
                    raise UserError(f"{flag} must be at most {meta['high']:g}, not {value}")
        if any(h < 1 or h > 100_000 for h in self.hidden):
            raise UserError(f"--hidden sizes must be between 1 and 100000, not {self.hidden}")
        if len(self.conv) > 8 or any(c < 1 or c > 4096 for c in self.conv):
            raise UserError(f"--conv takes 0-8 channel counts of 1-4096, not {self.conv}")
        check_kind_options(self)
        if self.components is not None and self.code_density == "kde":
            raise UserError("--components sets the size of a gmm code density, not of kde")
        if self.channels == 2:
            raise UserError("--channels must be 1 (grayscale) or 3 (RGB), not 2")
        if self.image_size is not None:
            from aecli.data.image_size import parse_size

            parse_size(self.image_size)
        if (self.sep, self.decimal, self.thousands, self.encoding) != (None,) * 4:
            from aecli.data.csv_dialect import dialect_of

            dialect_of(self).check()
        if self.noise is not None:
            from aecli.parts.noise_spec import parse_noises

            parse_noises(self.noise)
        return self

    def resolved(self) -> TrainOptions:
        """A copy with the kind's preset filled into every option left at None."""
        from aecli.parts.kinds import preset_for

        self.validate()
        out = dataclasses.replace(self, **preset_for(self))
        for name, value in BASE_DEFAULTS.items():
            if getattr(out, name) is None:
                setattr(out, name, value)
        if out.sparsity == "none":
            out.sparsity = None
        if out.sparsity is not None and out.sparsity_weight is None:
            out.sparsity_weight = 1e-2 if out.sparsity == "l1" else 1e-1
        if out.contractive_weight is None:
            out.contractive_weight = 0.0
        return out

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "") -> TrainOptions:
        """Options from plain values (keyword arguments, JSON, TOML): an unknown name or a
        wrong type is an `OptionError` (a UserError) with a suggestion; `where` prefixes it."""
        return cls(**coerced(cls, data, where))


TrainOptions.__doc__ = f"{TrainOptions.__doc__}\n\nOptions:\n\n{describe(TrainOptions)}\n"
