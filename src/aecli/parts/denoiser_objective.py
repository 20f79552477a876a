"""The residual denoiser's objective: the one equation L(x, g(f(corrupt(x)))) on image crops.

Each batch of crops gets one of the 8 flips and rotations (drawn per batch), so a few thousand
crops show the network many more. With clean targets, noise is drawn fresh for every crop from
--noise and a quarter of the noisy crops are clipped to [0, 1] and quantised to 8 bits, like a
noisy image file; the loss is the squared error against the clean crop. With `blind_spot` (the
crops are noisy already and there is no clean target), pixels are hidden and the loss scored
only there, against their noisy values (see blindspot.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from aecli.parts.blindspot import hidden_loss, hide_pixels
from aecli.parts.corruption import Corruption
from aecli.parts.objective import Terms

if TYPE_CHECKING:
    from aecli.parts.residual import DenoiserNet

QUANTISED_SHARE = 0.25  # of the noisy crops, clipped and rounded to 8 bits


def flip_rotate(images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """One of the 8 flips and rotations of square (N, C, P, P) crops, drawn from `gen`."""
    choice = int(torch.randint(8, (1,), generator=gen))
    out = torch.rot90(images, choice % 4, dims=(2, 3))
    return out.flip(3) if choice >= 4 else out


class DenoiserObjective:
    """The loss of a residual denoiser on a batch of crops (rows of C x P x P pixels)."""

    needs_input_grad = False

    def __init__(self, corrupt: Corruption | None, blind_spot: bool = False) -> None:
        self.corrupt = corrupt
        self.blind_spot = blind_spot
        self.epoch = 1  # set by the training loop (unused: no warm-up here)
        self.may_have_missing = False  # set by the training loop; images have no missing cells

    def __call__(self, net: DenoiserNet, batch: torch.Tensor, gen: torch.Generator) -> Terms:
        clean = flip_rotate(net.images(batch), gen)
        if self.blind_spot:
            masked, hidden = hide_pixels(clean, gen)
            out = net.clean(masked)
            loss = hidden_loss(out, clean, hidden)
            return Terms(loss, loss, out)
        noisy = clean
        if self.corrupt is not None:
            rows = self.corrupt(clean.reshape(len(clean), -1), gen)
            noisy = rows.reshape(clean.shape)
            quantise = (
                torch.rand(len(noisy), 1, 1, 1, generator=gen).to(noisy.device) < QUANTISED_SHARE
            )
            noisy = torch.where(quantise, torch.round(noisy.clamp(0, 1) * 255) / 255, noisy)
        out = net.clean(noisy)
        loss = torch.mean((out - clean) ** 2)
        return Terms(loss, loss, out)
