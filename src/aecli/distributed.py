"""Training under torchrun: one rank of a DistributedDataParallel job (gloo on CPU, NCCL on
CUDA). Each rank keeps and trains on its own shard of the training rows (a table's fit keeps
only that: `Placement.part`) with its share of the global batch; losses and validation are
summed over the ranks so every rank takes the same decisions (early stopping, best epoch,
cycles); only rank 0 writes. The loop is training.py's."""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from aecli.batches import Feed
from aecli.devices import check_precision, resolve
from aecli.errors import UserError


class DistributedFailure(UserError):
    """Another rank of the job failed: this one stops too."""

    exit_code = 1


@dataclass(frozen=True)
class Launch:
    """What torchrun told this process: its rank, the world size and its local rank."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> Launch:
        env = os.environ
        try:
            return cls(
                int(env.get("RANK", "0")),
                int(env.get("WORLD_SIZE", "1")),
                int(env.get("LOCAL_RANK", "0")),
            )
        except ValueError:
            raise UserError("RANK, WORLD_SIZE and LOCAL_RANK must be integers") from None

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def device_name(self, name: str) -> str:
        """auto and cuda mean this rank's own GPU (cuda:LOCAL_RANK)."""
        if name in ("auto", "cuda") and torch.cuda.is_available():
            return f"cuda:{self.local_rank % torch.cuda.device_count()}"
        return name

    def start(self, device: torch.device) -> bool:
        """Join the process group (gloo on CPU, NCCL on CUDA); True if this call joined."""
        if dist.is_initialized():
            return False
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return True


def is_writer() -> bool:
    """True in the process that writes files: rank 0, or a run outside torchrun."""
    return Launch.from_environment().rank == 0


class ShardFeed(Feed):
    """One rank: its shard of the training rows (every WORLD-th row of the split), a permutation
    of it per epoch (padded so that every rank has the same length), and a batch of its share of
    the global batch, gradients averaged by DistributedDataParallel."""

    def __init__(self, launch: Launch, shard: int, device: torch.device, precision: str) -> None:
        super().__init__(device, precision)
        self.rank, self.world = launch.rank, launch.world
        self.shard, self.global_batch = shard, 1
        self.length = int(self.reduce([shard], "max")[0])  # the padded permutation's length

    def reduce(self, values: list[float], op: str = "sum") -> list[float]:
        kind = dist.ReduceOp.MAX if op == "max" else dist.ReduceOp.SUM
        t = torch.tensor(values, dtype=torch.float64, device=self._comm_device())
        _collective(dist.all_reduce, t, op=kind)
        return t.tolist()

    def _comm_device(self) -> torch.device:
        return self.device if dist.get_backend() == "nccl" else torch.device("cpu")

    def prepare(self, net: torch.nn.Module, objective: object) -> None:
        super().prepare(net, objective)
        step = _Loss(net, objective)
        ids = [self.device.index] if self.device.type == "cuda" else None
        self.model = DistributedDataParallel(step, device_ids=ids)

    def total(self, count: int) -> int:
        return int(self.reduce([count])[0])

    def share(self, batch: int) -> int:
        """This rank's rows of a global batch of `batch` rows."""
        return batch // self.world + (self.rank < batch % self.world)

    def permutation(self, n: int, gen: torch.Generator) -> torch.Tensor:
        order = torch.randperm(self.shard, generator=gen)
        repeats = math.ceil(self.length / max(self.shard, 1))
        return order.repeat(repeats)[: self.length]

    def take(self, order: torch.Tensor, start: int, batch: int) -> torch.Tensor:
        self.global_batch, own = batch, self.share(batch)
        first = (start // batch) * own
        return order[torch.arange(first, first + own) % len(order)]

    def loss(self, batch: torch.Tensor, gen: torch.Generator) -> tuple[torch.Tensor, float]:
        loss, _ = _collective(super().loss, batch, gen)
        return loss, len(batch) * self.world / self.global_batch

    def backward(self, loss: torch.Tensor) -> None:
        _collective(super().backward, loss)

    def mean(self, total: float | torch.Tensor, count: int) -> float:
        summed, rows = self.reduce([float(total), count])
        return summed / max(rows, 1)

    def epoch_mean(self, running: torch.Tensor, rows: int, batch: int) -> float:
        return self.mean(running, math.ceil(rows / batch) * self.share(batch))

    def agreed(self, flag: bool) -> bool:
        return bool(self.reduce([float(flag)], "max")[0])

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        local = tensor.reshape(-1).to(self._comm_device())
        parts = [torch.empty_like(local) for _ in range(self.world)]
        _collective(dist.all_gather, parts, local)
        return torch.cat(parts).cpu()

    def part(self, tensor: torch.Tensor) -> torch.Tensor:
        size = len(tensor) // self.world
        piece = tensor[self.rank * size : (self.rank + 1) * size].clone()  # its own storage
        return piece.reshape(()) if size == 1 and tensor.dtype.is_floating_point else piece


class _Loss(torch.nn.Module):
    """The objective as a module whose forward is the batch's loss, for DDP to wrap."""

    def __init__(self, net: torch.nn.Module, objective: object) -> None:
        super().__init__()
        self.net, self.objective = net, objective

    def forward(self, batch: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return self.objective(self.net, batch, gen).loss  # type: ignore[operator, attr-defined]


def _collective(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a collective; a peer that died is one clear error rather than a traceback."""
    try:
        return fn(*args, **kwargs)
    except (RuntimeError, dist.DistBackendError) as exc:
        if (
            "Connection" not in str(exc)
            and "peer" not in str(exc).lower()
            and not isinstance(exc, dist.DistBackendError)
        ):
            raise
        raise DistributedFailure(
            "training stopped: another process of this torchrun job failed (its error is "
            f"above; {str(exc).splitlines()[0][:120]})"
        ) from None


@dataclass
class Placement:
    """Where one training process runs: its launch (rank, world), device and precision."""

    launch: Launch
    device: torch.device
    precision: str

    @property
    def writes(self) -> bool:
        return self.launch.rank == 0

    def shard(self, rows: np.ndarray, at_least: int | None = None) -> np.ndarray:
        """This rank's rows: every WORLD-th, from its rank on; training rows (`at_least` not
        given) at least one for every rank."""
        least = self.launch.world if at_least is None else at_least
        if self.launch.distributed and len(rows) < least:
            raise UserError(
                f"{len(rows)} training rows cannot be shared by {self.launch.world} processes"
            )
        return rows[self.launch.rank :: self.launch.world]

    @property
    def part(self) -> tuple[int, int] | None:
        """(rank, world) when several processes train: which share of the rows to keep."""
        return (self.launch.rank, self.launch.world) if self.launch.distributed else None

    def extent(self, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each feature's lowest and highest value over every process's rows (NaN where no
        process has one), from this process's."""
        if not self.launch.distributed:
            return low, high
        both = np.concatenate([-np.asarray(low, np.float64), np.asarray(high, np.float64)])
        most = self._all_max(np.where(np.isnan(both), -np.inf, both))
        most[np.isneginf(most)] = np.nan
        return (-most[: len(low)]).astype(low.dtype), most[len(low) :].astype(high.dtype)

    def agreed(self, flag: bool) -> bool:
        """True when any process says so."""
        if not self.launch.distributed:
            return flag
        return bool(self._all_max(np.array([float(flag)]))[0])

    def _all_max(self, values: np.ndarray) -> np.ndarray:
        where = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.from_numpy(values).to(where)
        _collective(dist.all_reduce, t, op=dist.ReduceOp.MAX)
        return t.cpu().numpy()

    def feed(self, shard: int, batch_size: int) -> Feed:
        if not self.launch.distributed:
            return Feed(self.device, self.precision)
        if batch_size < self.launch.world:
            raise UserError(
                f"--batch-size {batch_size} is the global batch: give at least one row to each "
                f"of the {self.launch.world} processes"
            )
        return ShardFeed(self.launch, shard, self.device, self.precision)

    def check_resume(self, history: dict[str, object]) -> None:
        saved = history.get("world_size", 1)
        if saved != self.launch.world:
            raise UserError(
                f"this run was saved by {saved} process(es); resume it with the same number "
                f"(torchrun --nproc-per-node {saved}, or without torchrun for 1)"
            )

    def record(self) -> dict[str, object]:
        """How the model was trained, for its history (`inspect` shows it)."""
        return {
            "world_size": self.launch.world,
            "device": self.device.type,
            "precision": self.precision,
        }


@contextlib.contextmanager
def placement(device: str = "auto", precision: str = "fp32") -> Iterator[Placement]:
    """Resolve the device (under torchrun, auto means this rank's GPU), join the process group
    when torchrun started several processes, and leave it afterwards."""
    launch = Launch.from_environment()
    where = resolve(launch.device_name(device))
    check_precision(where, precision)
    joined = launch.start(where) if launch.distributed else False
    try:
        yield Placement(launch, where, precision)
    finally:
        if joined:
            dist.destroy_process_group()
