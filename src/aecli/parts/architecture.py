"""The network's description: everything needed to rebuild it, stored in the checkpoint and
validated there before anything is allocated. No torch at import time."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

from aecli.errors import CheckpointError, check_int
from aecli.vocabulary import ACTIVATIONS

CODE_ACTIVATIONS = (None, "sigmoid", "shrink")
MAX_WIDTH = 1_000_000  # of any layer, as a checkpoint may declare it
_FIELDS = {"n_features", "latent_dim", "hidden", "activation", "code_activation"}
_FLAGS = {"variational", "learned_variance", "mask_inputs"}
# A residual denoiser's network (parts/residual.py): its fields and their limits.
RESIDUAL_LIMITS = {"blocks": (1, 32), "channels": (1, 256), "scale": (1, 4)}
COLOURS = ("opponent", "channels")  # how a residual denoiser treats RGB images


@dataclass(frozen=True)
class Architecture:
    """Everything needed to rebuild the network; stored in the checkpoint."""

    n_features: int
    latent_dim: int
    hidden: tuple[int, ...]
    activation: str
    code_activation: str | None = None  # "sigmoid" for KL sparsity, "shrink" for L1 sparsity
    variational: bool = False  # the encoder outputs a Gaussian q(z | x): mean and log-variance
    learned_variance: bool = False  # a learned log-variance per feature for Gaussian likelihoods
    n_condition: int = 0  # width of the one-hot condition y fed to encoder and decoder
    mask_inputs: bool = False  # the encoder also sees which cells are missing (NaN)
    image_shape: tuple[int, int, int] | None = None  # (C, H, W): `hidden` are conv channels
    # A residual denoiser (no bottleneck): blocks, channels, scale and colour of its network;
    # then image_shape is the training crop and latent_dim the feature channels.
    residual: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        if self.image_shape is None:
            del data["image_shape"]
        else:
            data["image_shape"] = list(self.image_shape)
        if self.residual is None:
            del data["residual"]  # bottleneck checkpoints stay as they were
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        """The architecture a checkpoint declares, every field checked first."""
        if not isinstance(data, dict):
            raise CheckpointError("checkpoint metadata: architecture is missing or malformed")
        optional = _FLAGS | {"n_condition", "image_shape", "residual"}
        if not _FIELDS <= set(data) <= _FIELDS | optional or any(
            not isinstance(data.get(f, False), bool) for f in _FLAGS
        ):
            raise CheckpointError("checkpoint metadata: architecture has unexpected fields")
        d = check_int(data["n_features"], "n_features", 1, MAX_WIDTH)
        hidden = data["hidden"]
        if not isinstance(hidden, list) or len(hidden) > 16:
            raise CheckpointError("checkpoint metadata: hidden must be a list of at most 16 sizes")
        if data["activation"] not in ACTIVATIONS or data["code_activation"] not in CODE_ACTIVATIONS:
            raise CheckpointError("checkpoint metadata: unknown activation")
        return cls(
            d,
            check_int(data["latent_dim"], "latent_dim", 1, MAX_WIDTH),
            tuple(check_int(h, "hidden size", 1, MAX_WIDTH) for h in hidden),
            data["activation"],
            data["code_activation"],
            data.get("variational", False),
            data.get("learned_variance", False),
            check_int(data.get("n_condition", 0), "n_condition", 0, MAX_WIDTH),
            data.get("mask_inputs", False),
            _image_shape(data.get("image_shape"), d),
            _residual(data.get("residual"), data.get("image_shape")),
        )

    def parameter_count(self) -> int:
        """Parameters the network will have, computed without allocating it."""
        d, k, h = self.n_features, self.latent_dim, self.hidden
        out = 2 * k if self.variational else k
        c = self.n_condition
        e = d + c + (d if self.mask_inputs else 0)  # encoder input width
        count = e * out + out + (k + c) * d + d + (d if self.learned_variance else 0)
        if self.residual is not None:
            return residual_parameters(self.residual)
        if h and self.image_shape is not None:
            return count + self._conv_parameters(out)
        if h:
            for sizes in ([e, *h, out], [k + c, *reversed(h), d]):
                count += sum(a * b + b for a, b in itertools.pairwise(sizes))
        return count

    def _conv_parameters(self, out: int) -> int:
        """The convolutional encoder's and decoder's parameters (see networks.py)."""
        assert self.image_shape is not None
        channels, height, width = self.image_shape
        k, c, h = self.latent_dim, self.n_condition, self.hidden
        fh, fw = conv_sizes(height, width, len(h))[-1]
        stages = [channels * (2 if self.mask_inputs else 1), *h]
        encoder = sum(a * b * 9 + b for a, b in itertools.pairwise(stages))
        encoder += (h[-1] * fh * fw + c) * out + out
        cells = h[-1] * fh * fw
        decoder = (k + c) * cells + cells
        decoder += sum(a * b * 9 + b for a, b in itertools.pairwise(reversed(h)))
        return encoder + decoder + h[0] * channels * 9 + channels


def conv_sizes(height: int, width: int, stages: int) -> list[tuple[int, int]]:
    """Feature-map sizes from the input down: each stride-2 stage halves (rounding up)."""
    sizes = [(height, width)]
    for _ in range(stages):
        h, w = sizes[-1]
        sizes.append(((h + 1) // 2, (w + 1) // 2))
    return sizes


def _image_shape(shape: Any, d: int) -> tuple[int, int, int] | None:
    """(C, H, W) of an image model, matching its n_features; None for a table model."""
    if shape is None:
        return None
    if not isinstance(shape, list) or len(shape) != 3:
        raise CheckpointError("checkpoint metadata: image_shape must be [channels, height, width]")
    c, h, w = (check_int(v, "image_shape", 1, MAX_WIDTH) for v in shape)
    if c not in (1, 3) or c * h * w != d:
        raise CheckpointError("checkpoint metadata: image_shape does not match n_features")
    return c, h, w


def residual_parameters(spec: dict[str, Any]) -> int:
    """The residual denoiser's parameters: head, blocks of two convolutions, tail."""
    cells, width = spec["scale"] ** 2, spec["channels"]
    head = cells * width * 9 + width
    block = 2 * (width * width * 9 + width)
    return head + spec["blocks"] * block + width * cells * 9 + cells


def _residual(spec: Any, image_shape: Any) -> dict[str, Any] | None:
    """A residual denoiser's network, every field checked (it needs an image shape)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or set(spec) != {*RESIDUAL_LIMITS, "colour"}:
        raise CheckpointError("checkpoint metadata: the residual denoiser has unexpected fields")
    if spec["colour"] not in COLOURS or image_shape is None:
        raise CheckpointError("checkpoint metadata: the residual denoiser is malformed")
    out: dict[str, Any] = {
        key: check_int(spec[key], key, low, high) for key, (low, high) in RESIDUAL_LIMITS.items()
    }
    out["colour"] = spec["colour"]
    return out
