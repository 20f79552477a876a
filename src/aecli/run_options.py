"""Where a model runs: `--device` and `--precision`, declared once for every command that runs a
model (the CLI builds its flags from these fields) and for `device=` / `precision=` in Python.

Not part of a checkpoint's options: a checkpoint is device-independent. No torch here."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from aecli.errors import UserError
from aecli.options import opt

DEVICE_PATTERN = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass
class RunOptions:
    """The device and arithmetic a command runs its model with."""

    device: str = field(
        default="auto",
        metadata={
            **opt(
                "auto",
                "Where the model runs: auto (CUDA when available, else CPU), cpu, cuda, "
                "cuda:N or mps.",
                panel="Device",
            ).metadata,
            "metavar": "auto|cpu|cuda[:N]|mps",
        },
    )
    precision: str = opt(
        "fp32",
        "Arithmetic: fp32, or bf16 / fp16 with autocast on a GPU (on a CPU: fp32 or bf16).",
        choices=PRECISIONS,
        panel="Device",
    )

    def validate(self) -> RunOptions:
        """Raise UserError for a device or precision that cannot be written so."""
        if not DEVICE_PATTERN.fullmatch(self.device or ""):
            raise UserError(
                f"--device {self.device!r} is not a device; write auto, cpu, cuda, cuda:N or mps"
            )
        if self.precision not in PRECISIONS:
            raise UserError(
                f"--precision {self.precision!r} is not one of: {', '.join(PRECISIONS)}"
            )
        return self


def launch_rank() -> int:
    """This process's rank under torchrun (RANK), 0 outside it: only rank 0 writes."""
    try:
        return int(os.environ.get("RANK", "0"))
    except ValueError:
        return 0
