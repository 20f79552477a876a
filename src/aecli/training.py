"""The one training loop for every kind: batches sliced from one in-memory tensor, a validation
split, a cosine learning-rate schedule, early stopping that keeps the best epoch's weights."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import torch

from aecli.errors import TrainingDiverged
from aecli.networks import AutoencoderNet
from aecli.objective import Objective
from aecli.options import TrainOptions

EVAL_BATCH = 8192
EpochCallback = Callable[[dict[str, Any], int], None]


def planned_epochs(options: TrainOptions, n_rows: int) -> int:
    """--epochs, or enough epochs for about --steps optimiser steps (10 to 5000)."""
    if options.epochs is not None:
        return options.epochs
    steps_per_epoch = math.ceil(n_rows / min(options.batch_size, n_rows))
    return max(10, min(5000, math.ceil(options.steps / steps_per_epoch)))


def auto_threads(n_params: int, batch_size: int) -> int:
    """One thread for small work (thread hand-offs cost more than they save), more for large."""
    if n_params * batch_size < 20_000_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def evaluate(net: AutoencoderNet, objective: Objective, x: torch.Tensor, seed: int) -> float:
    """The objective on `x`, averaged over rows; any corruption drawn from a fixed seed."""
    gen = torch.Generator().manual_seed(seed + 1)
    net.eval()
    total = 0.0
    grad = torch.enable_grad() if objective.needs_input_grad else torch.no_grad()
    with grad:
        for start in range(0, len(x), EVAL_BATCH):
            batch = x[start : start + EVAL_BATCH]
            total += float(objective(net, batch, gen).loss) * len(batch)
    return total / len(x)


def fit(
    net: AutoencoderNet,
    objective: Objective,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    options: TrainOptions,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train `net` in place; return the history. The best epoch's weights are left in `net`."""
    gen = torch.Generator().manual_seed(options.seed)
    n = len(x_train)
    batch = min(options.batch_size, n)
    epochs = planned_epochs(options, n)
    total_steps = epochs * math.ceil(n / batch)
    monitor = x_val if len(x_val) else x_train
    opt_cls = torch.optim.AdamW if options.weight_decay > 0 else torch.optim.Adam
    optimiser = opt_cls(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total_steps) / total_steps))
    )
    best = evaluate(net, objective, monitor, options.seed)
    best_state = {k: v.clone() for k, v in net.state_dict().items()}
    records: list[dict[str, Any]] = [{"epoch": 0, "train_loss": None, "val_loss": best}]
    best_epoch, stopped_early = 0, False
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(n, generator=gen)
        running = torch.zeros(())
        for start in range(0, n, batch):
            rows = order[start : start + batch]
            loss = objective(net, x_train[rows], gen).loss
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            if options.clip_grad:
                torch.nn.utils.clip_grad_norm_(net.parameters(), options.clip_grad)
            optimiser.step()
            schedule.step()
            running += loss.detach() * len(rows)
        train_loss = float(running) / n
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the training loss became {train_loss} in epoch {epoch}; nothing was saved. "
                f"Try a lower --lr (now {options.lr:g}) or --clip-grad 1.0"
            )
        val_loss = evaluate(net, objective, monitor, options.seed)
        records.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss})
        if val_loss < best:
            best, best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in net.state_dict().items()}
        if on_epoch is not None:
            on_epoch(records[-1], epochs)
        if options.patience and epoch - best_epoch >= options.patience:
            stopped_early = True
            break
    net.load_state_dict(best_state)
    net.eval()
    return {
        "epochs_planned": epochs,
        "epochs_run": len(records) - 1,
        "best_epoch": best_epoch,
        "stopped_early": stopped_early,
        "monitor": "validation" if len(x_val) else "training",
        "records": records,
    }
