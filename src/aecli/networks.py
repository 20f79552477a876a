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

SHRINK_THRESHOLD = 0.3  # of the "shrink" code activation, in the code's units
CODE_ACTIVATIONS = (None, "sigmoid", "shrink")

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
    code_activation: str | None = None  # "sigmoid" for KL sparsity, "shrink" for L1 sparsity
    variational: bool = False  # the encoder outputs a Gaussian q(z | x): mean and log-variance
    learned_variance: bool = False  # a learned log-variance per feature for Gaussian likelihoods
    n_condition: int = 0  # width of the one-hot condition y fed to encoder and decoder
    mask_inputs: bool = False  # the encoder also sees which cells are missing (NaN)

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
        c = self.n_condition
        e = d + c + (d if self.mask_inputs else 0)  # encoder input width
        count = e * out + out + (k + c) * d + d + (d if self.learned_variance else 0)
        if h:
            for sizes in ([e, *h, out], [k + c, *reversed(h), d]):
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
        c = arch.n_condition
        e = d + c + (d if arch.mask_inputs else 0)
        self.enc_skip = nn.Linear(e, out)
        self.dec_skip = nn.Linear(k + c, d)
        self.enc_mlp = _mlp([e, *h, out], arch.activation) if h else None
        self.dec_mlp = _mlp([k + c, *reversed(h), d], arch.activation) if h else None
        if arch.learned_variance:
            self.dec_logvar = nn.Parameter(torch.zeros(d))

    def _encoder(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's output for rows x (NaN = missing: seen as 0, the training mean, and,
        for a mask-aware model, flagged in extra inputs), with the condition y if any."""
        missing = torch.isnan(x)
        parts = [x.masked_fill(missing, 0.0)]
        if self.arch.mask_inputs:
            parts.append(missing.to(x.dtype))
        if y is not None:
            parts.append(y)
        x = torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]
        h = self.enc_skip(x)
        if self.enc_mlp is not None:
            h = h + self.enc_mlp(x)
        return h

    def encode(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The code h = f(x) (f(x, y) for a conditional model); for a VAE, the posterior mean."""
        h = self._encoder(x, y)
        if self.arch.variational:
            return h[:, : self.arch.latent_dim]
        if self.arch.code_activation == "sigmoid":
            h = torch.sigmoid(h)
        elif self.arch.code_activation == "shrink":  # soft threshold, the proximal map of L1
            h = torch.nn.functional.softshrink(h, SHRINK_THRESHOLD)
        return h

    def encode_dist(
        self, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x) (variational encoders only)."""
        h = self._encoder(x, y)
        k = self.arch.latent_dim
        return h[:, :k], h[:, k:].clamp(-30, 20)

    def decode(self, h: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's output g(h) (g(h, y) for a conditional model)."""
        if y is not None:
            h = torch.cat([h, y], dim=1)
        x = self.dec_skip(h)
        if self.dec_mlp is not None:
            x = x + self.dec_mlp(h)
        return x

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x, y), y)

    @torch.no_grad()
    def init_pca(self, components: torch.Tensor, mean: torch.Tensor | None = None) -> None:
        """Start at PCA: skip paths on the principal axes (d x k) around the training mean,
        residual MLPs silent."""
        d, k = self.arch.n_features, self.arch.latent_dim
        basis = torch.zeros(d, k)
        m = min(k, components.shape[1])
        basis[:, :m] = components[:, :m]
        self.enc_skip.weight.zero_()  # mask and condition inputs start silent
        self.dec_skip.weight.zero_()
        self.enc_skip.weight[:k, :d].copy_(basis.T)
        self.dec_skip.weight[:, :k].copy_(basis)
        if m < k:  # codes beyond the data's rank start random, or a dead zone (shrink) kills them;
            self.enc_skip.weight[m:k, :d].uniform_(-(d**-0.5), d**-0.5)  # the decoder ignores them
        self.enc_skip.bias.zero_()
        self.dec_skip.bias.zero_()
        if mean is not None:
            self.enc_skip.bias[:k].copy_(-(basis.T @ mean))
            self.dec_skip.bias.copy_(mean)
        for mlp in (self.enc_mlp, self.dec_mlp):
            if mlp is not None:
                mlp[-1].weight.zero_()
                mlp[-1].bias.zero_()
