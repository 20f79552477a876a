"""How many threads torch and the BLAS libraries use: chosen by the size of the work, and
set for a block of code (`torch_threads`), which a forward pass inside reads back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

import torch

CHOSEN_THREADS: ContextVar[int | None] = ContextVar("aecli_threads", default=None)


def auto_threads(n_params: int, batch_size: int) -> int:
    """One thread for small work (thread hand-offs cost more than they save), more for large."""
    if n_params * batch_size < 20_000_000:
        return 1
    return max(1, min(4, os.cpu_count() or 1))


_blas: list[Any] = [None, -1]  # threadpoolctl's controller, and len(sys.modules) it was made at


def _blas_pools() -> Any:
    """threadpoolctl's view of the loaded BLAS / OpenMP pools, made again only when modules were
    imported since (a new pool can only come with one): finding them costs milliseconds, which
    a streamed command would pay for every block."""
    import sys

    from threadpoolctl import ThreadpoolController

    if _blas[1] != len(sys.modules):
        _blas[0] = ThreadpoolController()
        _blas[1] = len(sys.modules)
    return _blas[0]


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Use n threads in torch and in numpy's / scipy's BLAS (PCA, code density) alike: a BLAS
    pool left at the core count spins against torch and other processes on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    token = CHOSEN_THREADS.set(n)  # what a forward pass inside uses (streams.inference_threads)
    try:
        with _blas_pools().limit(limits=n):
            yield
    finally:
        CHOSEN_THREADS.reset(token)
        torch.set_num_threads(before)


__all__ = ["CHOSEN_THREADS", "auto_threads", "torch_threads"]
