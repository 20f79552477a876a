"""The network: encoder f and decoder g, each a linear skip path plus an optional residual body:
an MLP for tables, a convolutional encoder / decoder for images (rows of C x H x W pixels).

With the body's last layer at zero and the skip paths set to the principal axes, the network starts
exactly at the PCA solution, so training (with early stopping on validation) can only improve on it.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from aecli.parts.architecture import Architecture, conv_sizes
from aecli.vocabulary import ACTIVATIONS

SHRINK_THRESHOLD = 0.3  # of the "shrink" code activation, in the code's units


def _activation(name: str) -> nn.Module:
    return getattr(nn, ACTIVATIONS[name])()


def _mlp(sizes: list[int], activation: str) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(_activation(activation))
    return nn.Sequential(*layers)


class ConvEncoder(nn.Module):
    """Rows of C x H x W pixels (then as many missing-flags, then the condition y) -> code.

    Stride-2 3x3 convolutions with the `hidden` channel counts, then one linear map (which
    also sees y) to the code."""

    def __init__(self, arch: Architecture, out: int) -> None:
        super().__init__()
        assert arch.image_shape is not None
        c, h, w = arch.image_shape
        self.in_shape = (c * (2 if arch.mask_inputs else 1), h, w)
        self.pixels = self.in_shape[0] * h * w
        layers: list[nn.Module] = []
        previous = self.in_shape[0]
        for channels in arch.hidden:
            layers += [nn.Conv2d(previous, channels, 3, stride=2, padding=1)]
            layers += [_activation(arch.activation)]
            previous = channels
        self.convs = nn.Sequential(*layers)
        fh, fw = conv_sizes(h, w, len(arch.hidden))[-1]
        self.last = nn.Linear(previous * fh * fw + arch.n_condition, out)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        images = v[:, : self.pixels].reshape(-1, *self.in_shape)
        features = self.convs(images.contiguous(memory_format=torch.channels_last)).flatten(1)
        if v.shape[1] > self.pixels:  # the condition y
            features = torch.cat([features, v[:, self.pixels :]], dim=1)
        return self.last(features)


class ConvDecoder(nn.Module):
    """Code (then y) -> rows of C x H x W: a linear map to the smallest feature map, then
    nearest-neighbour upsampling to each encoder stage's exact size, each followed by a 3x3
    convolution (the last one, at full size, straight to the image's channels)."""

    def __init__(self, arch: Architecture) -> None:
        super().__init__()
        assert arch.image_shape is not None
        c, h, w = arch.image_shape
        channels = list(arch.hidden)
        sizes = conv_sizes(h, w, len(channels))
        self.start = (channels[-1], *sizes[-1])
        cells = channels[-1] * sizes[-1][0] * sizes[-1][1]
        first = nn.Linear(arch.latent_dim + arch.n_condition, cells)
        self.first = nn.Sequential(first, _activation(arch.activation))
        layers: list[nn.Module] = []
        for i in range(len(channels) - 1, 0, -1):
            layers += [nn.Upsample(size=sizes[i], mode="nearest")]
            layers += [nn.Conv2d(channels[i], channels[i - 1], 3, padding=1)]
            layers += [_activation(arch.activation)]
        layers += [nn.Upsample(size=sizes[0], mode="nearest")]
        self.convs = nn.Sequential(*layers)
        self.last = nn.Conv2d(channels[0], c, 3, padding=1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        maps = self.first(h).reshape(-1, *self.start)
        return self.last(self.convs(maps)).flatten(1)


def _last_layer(body: nn.Module) -> nn.Module:
    return body.last if isinstance(body, ConvEncoder | ConvDecoder) else body[-1]


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
        if arch.image_shape is not None and h:  # the residual bodies: conv for images
            self.enc_mlp: nn.Module | None = ConvEncoder(arch, out)
            self.dec_mlp: nn.Module | None = ConvDecoder(arch)
            self.to(memory_format=torch.channels_last)  # oneDNN's fast CPU convolutions
        else:
            self.enc_mlp = _mlp([e, *h, out], arch.activation) if h else None
            self.dec_mlp = _mlp([k + c, *reversed(h), d], arch.activation) if h else None
        if arch.learned_variance:
            self.dec_logvar = nn.Parameter(torch.zeros(d))

    def _encoder(
        self, x: torch.Tensor, y: torch.Tensor | None = None, complete: bool = False
    ) -> torch.Tensor:
        """The encoder's output for rows x (NaN = missing: seen as 0, the training mean, and,
        for a mask-aware model, flagged in extra inputs), with the condition y if any.
        `complete`: the caller knows x has no NaN (the training loop on complete data), so the
        check is skipped; the result is the same."""
        if complete and not self.arch.mask_inputs:
            parts = [x]
        else:
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

    def encode(
        self, x: torch.Tensor, y: torch.Tensor | None = None, complete: bool = False
    ) -> torch.Tensor:
        """The code h = f(x) (f(x, y) for a conditional model); for a VAE, the posterior mean.
        `complete`: x is known to have no missing cells (skips the NaN check)."""
        h = self._encoder(x, y, complete)
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
                _last_layer(mlp).weight.zero_()
                _last_layer(mlp).bias.zero_()


def build_network(arch: Architecture) -> nn.Module:
    """The network an architecture describes: the autoencoder, or a residual denoiser."""
    if arch.residual is not None:
        from aecli.parts.residual import DenoiserNet

        return DenoiserNet(arch)
    return AutoencoderNet(arch)
