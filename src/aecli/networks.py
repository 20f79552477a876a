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
    variational: bool = False  # the encoder outputs a Gaussian q(z | x): mean and log-variance
    learned_variance: bool = False  # a learned log-variance per feature for Gaussian likelihoods

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
        out = 2 * k if self.variational else k
        count = d * out + out + k * d + d + (d if self.learned_variance else 0)
        if h:
            for sizes in ([d, *h, out], [k, *reversed(h), d]):
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
        out = 2 * k if arch.variational else k
        self.enc_skip = nn.Linear(d, out)
        self.dec_skip = nn.Linear(k, d)
        self.enc_mlp = _mlp([d, *h, out], arch.activation) if h else None
        self.dec_mlp = _mlp([k, *reversed(h), d], arch.activation) if h else None
        if arch.learned_variance:
            self.dec_logvar = nn.Parameter(torch.zeros(d))

    def _encoder(self, x: torch.Tensor) -> torch.Tensor:
        h = self.enc_skip(x)
        if self.enc_mlp is not None:
            h = h + self.enc_mlp(x)
        return h

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code h = f(x); for a variational encoder, the posterior mean."""
        h = self._encoder(x)
        if self.arch.variational:
            return h[:, : self.arch.latent_dim]
        if self.arch.code_activation == "sigmoid":
            h = torch.sigmoid(h)
        return h

    def encode_dist(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x) (variational encoders only)."""
        h = self._encoder(x)
        k = self.arch.latent_dim
        return h[:, :k], h[:, k:].clamp(-30, 20)

    def decode(self, h: torch.Tensor) -> torch.Tensor:
        x = self.dec_skip(h)
        if self.dec_mlp is not None:
            x = x + self.dec_mlp(h)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))

    @torch.no_grad()
    def init_pca(self, components: torch.Tensor, mean: torch.Tensor | None = None) -> None:
        """Start at PCA: skip paths on the principal axes (d x k) around the training mean,
        residual MLPs silent."""
        d, k = self.arch.n_features, self.arch.latent_dim
        basis = torch.zeros(d, k)
        m = min(k, components.shape[1])
        basis[:, :m] = components[:, :m]
        self.enc_skip.weight[:k].copy_(basis.T)
        self.dec_skip.weight.copy_(basis)
        self.enc_skip.bias.zero_()
        self.dec_skip.bias.zero_()
        if mean is not None:
            self.enc_skip.bias[:k].copy_(-(basis.T @ mean))
            self.dec_skip.bias.copy_(mean)
        for mlp in (self.enc_mlp, self.dec_mlp):
            if mlp is not None:
                mlp[-1].weight.zero_()
                mlp[-1].bias.zero_()
