"""The network: encoder f and decoder g, each a linear skip path plus an optional MLP residual.

With the MLP's last layer at zero and the skip paths set to the principal axes, the network starts
exactly at the PCA solution, so training (with early stopping on validation) can only improve on it.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

ACTIVATIONS = {
    "gelu": nn.GELU,
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


@dataclass(frozen=True)
class Architecture:
    """Everything needed to rebuild the network; stored in the checkpoint."""

    n_features: int
    latent_dim: int
    hidden: tuple[int, ...]
    activation: str
    code_activation: str | None = None  # "sigmoid" for KL sparsity

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        return cls(**{**data, "hidden": tuple(data["hidden"])})

    def parameter_count(self) -> int:
        """Parameters the network will have, computed without allocating it."""
        d, k, h = self.n_features, self.latent_dim, self.hidden
        count = 2 * d * k + d + k
        if h:
            for sizes in ([d, *h, k], [k, *reversed(h), d]):
                count += sum(a * b + b for a, b in itertools.pairwise(sizes))
        return count


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class AutoencoderNet(nn.Module):
    """h = f(x) = skip(x) + mlp(x);  x_hat = g(h) = skip(h) + mlp(h)."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        self.arch = arch
        d, k, h = arch.n_features, arch.latent_dim, arch.hidden
        self.enc_skip = nn.Linear(d, k)
        self.dec_skip = nn.Linear(k, d)
        self.enc_mlp = _mlp([d, *h, k], arch.activation) if h else None
        self.dec_mlp = _mlp([k, *reversed(h), d], arch.activation) if h else None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        h = self.enc_skip(x)
        if self.enc_mlp is not None:
            h = h + self.enc_mlp(x)
        if self.arch.code_activation == "sigmoid":
            h = torch.sigmoid(h)
        return h

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        x = self.dec_skip(h)
        if self.dec_mlp is not None:
            x = x + self.dec_mlp(h)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def init_pca(self, components: torch.Tensor) -> None:
        """Start at PCA: skip paths on the principal axes (d x k), residual MLPs silent."""
        d, k = self.arch.n_features, self.arch.latent_dim
        basis = torch.zeros(d, k)
        m = min(k, components.shape[1])
        basis[:, :m] = components[:, :m]
        self.enc_skip.weight.copy_(basis.T)
        self.dec_skip.weight.copy_(basis)
        self.enc_skip.bias.zero_()
        self.dec_skip.bias.zero_()
        for mlp in (self.enc_mlp, self.dec_mlp):
            if mlp is not None:
                mlp[-1].weight.zero_()
                mlp[-1].bias.zero_()
