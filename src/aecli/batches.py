"""How the training loop draws its batches and agrees on its sums: `Feed` is one process on
one device; `aecli.distributed.ShardFeed` is one rank of a torchrun job. The loop itself
(training.py) is the same for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from aecli.devices import autocast, rows_on


class Feed:
    """One process: a permutation of all training rows per epoch, batches of consecutive
    positions, losses computed on `device` with `precision` (fp16 with a gradient scaler)."""

    world, rank = 1, 0

    def __init__(self, device: torch.device | None = None, precision: str = "fp32") -> None:
        self.device = device or torch.device("cpu")
        self.precision = precision
        fp16 = precision == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if fp16 else None
        self.model: Any = None  # what computes a batch's loss: set by `prepare`

    def place(self, x: torch.Tensor) -> torch.Tensor:
        """Rows on the device for the whole run where they fit (see devices.rows_on)."""
        return rows_on(x, self.device)

    def prepare(self, net: torch.nn.Module, objective: Any) -> None:
        """Move the network and the objective's tensors to the device."""
        net.to(self.device)
        likelihood = getattr(objective, "likelihood", None)
        if likelihood is not None:
            likelihood.to(self.device)
        self.model = lambda batch, gen: objective(net, batch, gen).loss

    def total(self, count: int) -> int:
        """Rows over all processes."""
        return count

    def permutation(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return torch.randperm(n, generator=gen)

    def take(self, order: torch.Tensor, start: int, batch: int) -> torch.Tensor:
        """The positions of the batch that starts at global position `start`."""
        return order[start : start + batch]

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, float]:
        """(the loss of this batch, the factor its gradient is scaled by before backward)."""
        if batch.device != self.device:
            batch = batch.to(self.device, non_blocking=True)
        with autocast(self.device, self.precision):
            loss = self.model(batch, gen)
        return loss.float(), 1.0

    def backward(self, loss: torch.Tensor) -> None:
        (loss if self.scaler is None else self.scaler.scale(loss)).backward()

    def step(self, optimiser: torch.optim.Optimizer, clip: Callable[[], None] | None) -> None:
        if self.scaler is None:
            if clip is not None:
                clip()
            optimiser.step()
            return
        self.scaler.unscale_(optimiser)
        if clip is not None:
            clip()
        self.scaler.step(optimiser)
        self.scaler.update()

    def mean(self, total: float | torch.Tensor, count: int) -> float:
        """A mean over the rows of every process, from this process's sum and count."""
        return float(total) / max(count, 1)

    def epoch_mean(self, running: torch.Tensor, rows: int, batch: int) -> float:
        """The epoch's mean training loss from this process's running sum."""
        return self.mean(running, rows)

    def agreed(self, flag: bool) -> bool:
        """True when any process says so."""
        return flag

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every process's copy, concatenated (for the resumable state)."""
        return tensor

    def part(self, tensor: torch.Tensor) -> torch.Tensor:
        """This process's slice of a gathered tensor."""
        return tensor
