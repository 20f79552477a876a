"""The residual denoiser's objective: the one equation L(x, g(f(corrupt(x)))) on image crops.

Each batch of crops gets one of the 8 flips and rotations (drawn per batch), so a few thousand
crops show the network many more. With clean targets, noise is drawn fresh for every crop from
--noise and a quarter of the noisy crops are clipped to [0, 1] and quantised to 8 bits, like a
noisy image file; the loss is the squared error against the clean crop. Self-supervised (the
crops are noisy already and there is no clean target): with "neighbor2neighbor", the network
turns one half-size sub-sample of each crop into another (see neighbor2neighbor.py); with
"blind-spot", pixels are hidden and the loss scored only there, against their noisy values (see
blindspot.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from aecli.parts.blindspot import hidden_loss, hide_pixels
from aecli.parts.corruption import Corruption
from aecli.parts.neighbor2neighbor import REGULARISER, pair_cells, pair_loss, sub_sample
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

    def __init__(self, corrupt: Corruption | None, self_supervised: str | None = None) -> None:
        self.corrupt = corrupt
        self.self_supervised = self_supervised  # None, "neighbor2neighbor" or "blind-spot"
        self.epoch = 1  # set by the training loop (unused: no warm-up here)
        self.may_have_missing = False  # set by the training loop; images have no missing cells

    def __call__(self, net: DenoiserNet, batch: torch.Tensor, gen: torch.Generator) -> Terms:
        clean = flip_rotate(net.images(batch), gen)
        if self.self_supervised == "neighbor2neighbor":
            return self._pairs(net, clean, gen)
        if self.self_supervised == "blind-spot":
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

    def _pairs(self, net: DenoiserNet, noisy: torch.Tensor, gen: torch.Generator) -> Terms:
        """Neighbor2Neighbor on noisy crops (trimmed to a multiple of 4 pixels a side, so the
        half-size sub-samples fit the network's 2 x 2 blocks). Evaluated (validation, early
        stopping, the kept epoch) it is the pair term alone, without the regulariser: see
        `pair_loss`."""
        side = noisy.shape[-1] - noisy.shape[-1] % 4
        noisy = noisy[..., :side, :side]
        first, second = pair_cells(noisy, gen)
        out = net.clean(sub_sample(noisy, first))
        if not net.training:
            loss = pair_loss(out, sub_sample(noisy, second))
            return Terms(loss, loss, out)
        with torch.no_grad():
            full = net.clean(noisy)
        loss = pair_loss(
            out,
            sub_sample(noisy, second),
            sub_sample(full, first),
            sub_sample(full, second),
            REGULARISER,
        )
        return Terms(loss, loss, out)
