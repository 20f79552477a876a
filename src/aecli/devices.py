"""Devices and precision: which torch device `--device` names, whether it exists here, and the
autocast context a `--precision` means on it. Checkpoints stay device-independent: weights are
saved from CPU copies and loaded on the CPU (safetensors, no map_location), then moved."""

from __future__ import annotations

import contextlib

import torch

from aecli.errors import UserError
from aecli.run_options import RunOptions

AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}


def available() -> list[str]:
    """The devices this process can use, as `--device` spells them."""
    found = ["cpu"]
    if torch.cuda.is_available():
        found += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def resolve(name: str | torch.device | None = "auto") -> torch.device:
    """The torch device for `name` (auto: CUDA when available, else CPU); a device this machine
    lacks is a UserError naming those it has."""
    if isinstance(name, torch.device):
        name = str(name)
    name = RunOptions(device=name or "auto").validate().device
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    seen = available()
    if name not in seen:
        raise UserError(f"--device {name} is not available here; available: {', '.join(seen)}")
    return torch.device(name)


def check_precision(device: torch.device, precision: str) -> str:
    """`precision` if this device can compute in it, else a UserError saying what can."""
    RunOptions(precision=precision).validate()
    if device.type == "cpu" and precision == "fp16":
        raise UserError("--precision fp16 needs a GPU; on a CPU use fp32 or bf16")
    if device.type == "mps" and precision == "bf16":
        raise UserError("--precision bf16 is not supported on mps; use fp32 or fp16")
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager[None]:
    """Mixed precision for `precision` bf16 / fp16 (autocast); for fp32 a context that does
    nothing (cheap to enter: the training loop enters one every batch)."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST[precision])


def rows_on(x: torch.Tensor, device: torch.device, share: float = 0.5) -> torch.Tensor:
    """The training rows on `device` when they take at most `share` of its free memory (no
    per-batch host copies); otherwise left on the host and moved per batch."""
    if device.type != "cuda":
        return x.to(device)
    free, _ = torch.cuda.mem_get_info(device)
    return x.to(device) if x.element_size() * x.nelement() <= share * free else x.pin_memory()
