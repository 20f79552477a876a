"""The one training loop for every kind: batches sliced from one in-memory tensor (or drawn fresh
for every step from a stream: a denoiser's random crops), a validation
split, a cosine learning-rate schedule, early stopping that keeps the best epoch's weights, and a
state that can be saved after any batch and resumed to the same result."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from aecli.batches import Feed
from aecli.devices import autocast
from aecli.errors import TrainingDiverged
from aecli.options import TrainOptions
from aecli.parts.networks import AutoencoderNet
from aecli.parts.objective import Objective
from aecli.progress import listening_now, tick

EVAL_BATCH = 8192
EVAL_VALUES = 1 << 20  # model-space values per evaluation chunk: wide rows (images) come fewer
EpochCallback = Callable[[dict[str, Any], int], None]
CYCLE_STEPS = 4000  # the default budget's first cycle, and each further one
MAX_CYCLES = 10  # at most 40,000 optimiser steps by default
CYCLE_GAIN = 0.005  # a further cycle runs while the last lowered the best validation loss this much
MAX_EPOCHS = 5000


def planned_epochs(options: TrainOptions, n_rows: int) -> int:
    """--epochs, or the fewest whole epochs that make --steps optimiser steps (default: one
    cycle of `CYCLE_STEPS`), at most `MAX_EPOCHS`."""
    if options.epochs is not None:
        return options.epochs
    steps = options.steps if options.steps is not None else CYCLE_STEPS
    steps_per_epoch = math.ceil(n_rows / min(options.batch_size, n_rows))
    return max(1, min(MAX_EPOCHS, math.ceil(steps / steps_per_epoch)))


def planned_steps(options: TrainOptions, n_rows: int) -> int:
    """The optimiser steps of the planned epochs: exactly --steps when it is given (the last
    epoch stops part-way), whole epochs otherwise."""
    per_epoch = math.ceil(n_rows / min(options.batch_size, n_rows))
    whole = planned_epochs(options, n_rows) * per_epoch
    explicit = options.epochs is None and options.steps is not None
    return min(whole, options.steps) if explicit and options.steps is not None else whole


def eval_rows(width: int) -> int:
    """Rows per evaluation chunk: `EVAL_BATCH`, fewer for rows wider than 128 values, so that
    the activations of a chunk stay bounded whatever the number of validation rows."""
    return max(1, min(EVAL_BATCH, EVAL_VALUES // max(1, width)))


def evaluate(
    net: AutoencoderNet, objective: Objective, x: torch.Tensor, seed: int, feed: Feed | None = None
) -> float:
    """The objective on `x`, averaged over rows; any corruption drawn from a fixed seed."""
    return evaluate_terms(net, objective, x, seed, feed)["loss"]


def evaluate_terms(
    net: AutoencoderNet, objective: Objective, x: torch.Tensor, seed: int, feed: Feed | None = None
) -> dict[str, float]:
    """`loss`: the objective on `x`, averaged over rows (any corruption or sampling drawn from a
    fixed seed); for a VAE also its two terms, `reconstruction` (-E_q log p(x | z), one sample)
    and `kl` (KL(q(z | x) || N(0, I)), not weighted by beta), in nats per row."""
    feed = feed or Feed(next(net.parameters(), torch.zeros(())).device)
    gen = torch.Generator().manual_seed(seed + 1 + feed.rank)  # rows of every rank, with `feed`
    net.eval()
    sums: dict[str, float] = {}
    grad = torch.enable_grad() if objective.needs_input_grad else torch.no_grad()
    step = eval_rows(x.shape[1:].numel())
    with grad, autocast(feed.device, feed.precision):
        for start in range(0, len(x), step):
            batch = x[start : start + step]
            if batch.device != feed.device:
                batch = batch.to(feed.device)
            terms = objective(net, batch, gen)
            parts = {"loss": terms.loss}
            if terms.kl is not None:
                parts.update(reconstruction=terms.reconstruction, kl=terms.kl)
            for name, value in parts.items():
                sums[name] = sums.get(name, 0.0) + float(value.detach()) * len(batch)
    names = ("loss", "reconstruction", "kl") if net.arch.variational else ("loss",)
    return {name: feed.mean(sums.get(name, 0.0), len(x)) for name in names}


def _record(epoch: int, train_loss: float | None, terms: dict[str, float]) -> dict[str, Any]:
    """One epoch of the history: its losses, and a VAE's terms on the monitored rows."""
    record: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss, "val_loss": terms["loss"]}
    if "kl" in terms:
        record.update(val_reconstruction=terms["reconstruction"], val_kl=terms["kl"])
    return record


@torch.no_grad()
def latent_usage(net: AutoencoderNet, x: torch.Tensor) -> dict[str, list[float]]:
    """Per latent dimension of a VAE, on rows `x`: the KL of q(z_j | x) from N(0, 1) averaged
    over rows, and the variance across rows of the posterior mean (active units have a
    variance above 0.01, Burda et al. 2016)."""
    net.eval()
    d = net.arch.n_features
    kl, means = [], []
    step = eval_rows(x.shape[1:].numel())
    for start in range(0, len(x), step):
        batch = x[start : start + step]
        rows, y = (batch[:, :d], batch[:, d:]) if net.arch.n_condition else (batch, None)
        mu, logvar = net.encode_dist(rows, y)
        kl.append(0.5 * (mu.pow(2) + logvar.exp() - 1 - logvar))
        means.append(mu)
    mu = torch.cat(means).double()
    return {
        "kl": [round(float(v), 6) for v in torch.cat(kl).double().mean(0)],
        "mean_variance": [round(float(v), 6) for v in mu.var(0, unbiased=False)],
    }


class Trainer:
    """Trains `net` in place. `run` returns False when `should_stop` asked it to stop early; the
    state (`state_tensors`, `state_meta`) can then be saved and `restore`d to continue exactly."""

    def __init__(
        self,
        net: AutoencoderNet,
        objective: Objective,
        x_train: torch.Tensor | Any,
        x_val: torch.Tensor,
        options: TrainOptions,
        feed: Feed | None = None,
    ) -> None:
        self.feed = feed = feed or Feed()  # device, precision, and this rank's share under torchrun
        self.net, self.objective, self.options = net, objective, options
        feed.prepare(net, objective)
        self.streamed = not isinstance(x_train, torch.Tensor)  # fresh rows for every batch
        self.x_train = x_train if self.streamed else feed.place(x_train)
        self.x_val = feed.place(x_val)
        self.monitor = self.x_val if feed.total(len(x_val)) or self.streamed else self.x_train
        missing = x_val.isnan().any() or getattr(x_train, "has_missing", False)
        missing = missing or (not self.streamed and x_train.isnan().any())
        objective.may_have_missing = feed.agreed(bool(missing))
        self.n = len(x_train) if self.streamed else feed.total(len(x_train))  # every rank's rows
        self.batch = min(options.batch_size, self.n)
        self.epochs = planned_epochs(options, self.n)
        self.per_epoch = math.ceil(self.n / self.batch)
        self.total_steps = planned_steps(options, self.n)
        # the default budget grows in cycles (a cosine each) while validation improves
        self.auto = options.epochs is None and options.steps is None
        self.cycle = {"start": 0, "steps": self.total_steps, "count": 1, "best_before": 0.0}
        self.gen = torch.Generator().manual_seed(options.seed + feed.rank)
        opt_cls = torch.optim.AdamW if options.weight_decay > 0 else torch.optim.Adam
        self.optimiser = opt_cls(net.parameters(), lr=options.lr, weight_decay=options.weight_decay)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(self.optimiser, self._cosine)
        first = evaluate_terms(net, objective, self.monitor, options.seed, feed)
        self.best = first["loss"]
        self.cycle["best_before"] = self.best
        self.live_state = net.state_dict()  # aliases of the parameters, updated in place
        self.best_state = {k: v.clone() for k, v in self.live_state.items()}
        self.best_epoch = 0
        self.records: list[dict[str, Any]] = [_record(0, None, first)]
        self.epoch = 1  # the epoch in progress
        self.start = 0  # the next batch's first position in `order`
        self.order: torch.Tensor | None = None
        self.running = torch.zeros((), device=feed.device)
        self.stopped_early = False

    def _cosine(self, t: int) -> float:
        """The learning-rate factor at step t: a cosine from 1 to 0 over the current cycle."""
        start, steps = self.cycle["start"], self.cycle["steps"]
        return 0.5 * (1 + math.cos(math.pi * min(max(t - start, 0), steps) / steps))

    @property
    def finished(self) -> bool:
        return self.epoch > self.epochs or self.stopped_early

    @property
    def steps_done(self) -> int:
        return int(self.schedule.last_epoch)  # the scheduler counts optimiser steps

    def _epoch_end(self) -> int:
        """Where the current epoch's batches end: n, or part-way for an exact --steps budget."""
        left = self.total_steps - (self.epoch - 1) * self.per_epoch
        return min(self.n, max(left, 0) * self.batch)

    def _extend(self) -> None:
        """At the end of a default budget's cycle: another cycle of the same length, the
        learning rate warm again, while the last one still lowered the best validation loss by
        `CYCLE_GAIN` (and patience did not stop the run)."""
        cycle = self.cycle
        before, best = cycle["best_before"], self.best
        if not self.auto or self.stopped_early or cycle["count"] >= MAX_CYCLES:
            return
        if not before - best > CYCLE_GAIN * abs(before) or self.epochs >= MAX_EPOCHS:
            return
        epochs = math.ceil(CYCLE_STEPS / self.per_epoch)
        self.epochs = min(MAX_EPOCHS, self.epochs + epochs)
        start = self.steps_done
        self.total_steps = self.epochs * self.per_epoch
        steps = self.total_steps - start
        self.cycle = {
            "start": start,
            "steps": steps,
            "count": cycle["count"] + 1,
            "best_before": best,
        }
        for group in self.optimiser.param_groups:
            group["lr"] = group["initial_lr"] * self._cosine(self.schedule.last_epoch)

    def run(
        self,
        on_epoch: EpochCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        every: int = 0,
        on_checkpoint: Callable[[], None] | None = None,
    ) -> bool:
        """Train to the end (True) or until `should_stop()` after a batch (False)."""
        net, objective = self.net, self.objective
        while not self.finished:
            net.train()
            objective.epoch = self.epoch
            if self.order is None:
                self.order = self.feed.permutation(self.n, self.gen)
                self.start, self.running = 0, torch.zeros((), device=self.feed.device)
            end = self._epoch_end()
            while self.start < end:
                rows = self.feed.take(self.order, self.start, self.batch)
                loss = self._step(self._rows(rows))
                self.schedule.step()
                self.running.add_(loss.detach(), alpha=len(rows))
                self.start += self.batch
                self._tick()
                if should_stop is not None and self.start < end and should_stop():
                    return False
            self._end_epoch(on_epoch, min(end, self.n))
            if self.epoch > self.epochs:
                self._extend()
            if every and on_checkpoint is not None and (self.epoch - 1) % every == 0:
                on_checkpoint()
            if should_stop is not None and not self.finished and should_stop():
                return False
        return True

    def _step(self, batch: torch.Tensor) -> torch.Tensor:
        """One optimiser step on `batch` (through the feed: device, precision, ranks)."""
        loss, factor = self.feed.loss(batch, self.gen)
        self.optimiser.zero_grad(set_to_none=True)
        self.feed.backward(loss * factor if factor != 1.0 else loss)
        clip = self.options.clip_grad
        params = self.net.parameters
        self.feed.step(
            self.optimiser,
            (lambda: torch.nn.utils.clip_grad_norm_(params(), clip)) if clip else None,
        )
        return loss

    def _rows(self, rows: torch.Tensor) -> torch.Tensor:
        """The batch's training rows: sliced from the tensor, or drawn fresh from the stream
        (placed by a seed from the loop's generator, so a resumed run draws the same)."""
        if not self.streamed:
            return self.x_train[rows]
        seed = int(torch.randint(2**62, (1,), generator=self.gen))
        return torch.from_numpy(self.x_train.batch(len(rows), seed, self.steps_done))

    def _end_epoch(self, on_epoch: EpochCallback | None, rows: int) -> None:
        train_loss = self.feed.epoch_mean(self.running, rows, self.batch)
        if not math.isfinite(train_loss):
            raise TrainingDiverged(
                f"the training loss became {train_loss} in epoch {self.epoch}; nothing was saved. "
                f"Try a lower --lr (now {self.options.lr:g}) or --clip-grad 1.0"
            )
        terms = evaluate_terms(self.net, self.objective, self.monitor, self.options.seed, self.feed)
        val_loss = terms["loss"]
        self.records.append(_record(self.epoch, train_loss, terms))
        if val_loss < self.best:
            self.best, self.best_epoch = val_loss, self.epoch
            self._keep_best()
        if on_epoch is not None:
            on_epoch(self.records[-1], self.epochs)
        self._tick(train_loss=train_loss, val_loss=val_loss)
        patience = self.options.patience
        self.stopped_early = bool(patience) and self.epoch - self.best_epoch >= patience
        self.epoch += 1
        self.order = None

    def _keep_best(self) -> None:
        """Copy the live weights into the kept buffers: one multi-tensor copy, no state_dict()
        walk, no allocation."""
        best = self.best_state  # paired by name: a restored state may list them in another order
        torch._foreach_copy_([best[k] for k in self.live_state], list(self.live_state.values()))

    def _tick(self, **losses: float) -> None:
        """Progress in optimiser steps, with the epoch and (at its end) the losses so far."""
        if not listening_now():
            return
        per_epoch = math.ceil(self.n / self.batch)
        done = (self.epoch - 1) * per_epoch + math.ceil(min(self.start, self.n) / self.batch)
        tick(
            done,
            self.epochs * per_epoch,
            "steps",
            epoch=self.epoch,
            epochs=self.epochs,
            best=self.best,
            best_epoch=self.best_epoch,
            **losses,
        )

    def history(self) -> dict[str, Any]:
        out = {
            "epochs_planned": self.epochs,
            "epochs_run": len(self.records) - 1,
            "steps_run": self.steps_done,
            "cycles": self.cycle["count"],
            "best_epoch": self.best_epoch,
            "stopped_early": self.stopped_early,
            "monitor": "validation" if self.monitor is self.x_val else "training",
            "records": self.records,
        }
        if self.net.arch.variational:  # the kept weights' use of each latent dimension
            out["latent"] = latent_usage(self.best_net().to(self.feed.device), self.monitor)
        return out

    def best_net(self) -> AutoencoderNet:
        """A copy of the network with the best epoch's weights (the one to save or use)."""
        best = type(self.net)(self.net.arch)
        best.load_state_dict(self.best_state)
        return best.eval()

    # --- resumable state: tensors and JSON, never pickle ---

    def state_tensors(self) -> dict[str, torch.Tensor]:
        out = {f"net.{k}": v.detach().clone() for k, v in self.net.state_dict().items()}
        for index, slots in self.optimiser.state_dict()["state"].items():
            for name, value in slots.items():
                out[f"opt.{index}.{name}"] = torch.as_tensor(value).clone()
        out["rng"] = self.feed.gather(self.gen.get_state())  # every rank's, in rank order
        out["running"] = self.feed.gather(self.running.detach().cpu().clone())
        if self.order is not None:
            out["order"] = self.feed.gather(self.order.clone())
        return {k: v.detach().cpu() for k, v in out.items()}

    def state_meta(self) -> dict[str, Any]:
        return {
            "epoch": self.epoch,
            "start": self.start,
            "best": self.best,
            "best_epoch": self.best_epoch,
            "records": self.records,
            "stopped_early": self.stopped_early,
            "schedule_step": self.schedule.last_epoch,
            "epochs": self.epochs,
            "cycle": self.cycle,
        }

    def restore(
        self,
        meta: dict[str, Any],
        tensors: dict[str, torch.Tensor],
        best_state: dict[str, torch.Tensor],
    ) -> None:
        """Continue from a state saved by `state_meta` / `state_tensors`."""
        self.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")})
        self.best_state = {k: v.clone().to(self.feed.device) for k, v in best_state.items()}
        state = self.optimiser.state_dict()
        slots: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in tensors.items():
            if key.startswith("opt."):
                _, index, name = key.split(".", 2)
                slots.setdefault(int(index), {})[name] = value
        state["state"] = slots
        self.optimiser.load_state_dict(state)
        self.epochs = meta.get("epochs", self.epochs)
        self.cycle = dict(meta.get("cycle", self.cycle))
        if self.auto:
            self.total_steps = self.epochs * self.per_epoch
        self.schedule.last_epoch = meta["schedule_step"]
        for group in self.optimiser.param_groups:
            group["lr"] = group["initial_lr"] * self._cosine(meta["schedule_step"])
        self.schedule._last_lr = [g["lr"] for g in self.optimiser.param_groups]
        feed = self.feed
        self.gen.set_state(feed.part(tensors["rng"]))
        self.running = feed.part(tensors["running"]).clone().to(feed.device)
        self.order = None if "order" not in tensors else feed.part(tensors["order"])
        self.epoch, self.start = meta["epoch"], meta["start"]
        self.best, self.best_epoch = meta["best"], meta["best_epoch"]
        self.records = meta["records"]
        self.stopped_early = meta["stopped_early"]
