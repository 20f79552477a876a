"""Progress of long work, for whoever listens. The library calls `tick` as work advances (blocks
of rows in `Model.apply`, batches and epochs in the training loop, images in `denoise`); a caller
that wants to show it wraps the work in `listening(callback)`. The command line's bar and its
plain log lines (`cli/progress.py`) are one such listener. Without a listener a tick costs one
context-variable lookup."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Tick:
    """`done` of `total` units of one pass of work; `figures` the pass reports alongside (the
    training loop: epoch, epochs, train_loss, val_loss, best, best_epoch)."""

    done: int
    total: int | None
    unit: str = "rows"
    figures: dict[str, Any] = field(default_factory=dict)
    inner: bool = False  # within one block of a pass that a stream reports as a whole
    stream: bool = False  # of a whole input read in blocks (bytes of a table, image files)


Listener = Callable[[Tick], None]
_listener: ContextVar[Listener | None] = ContextVar("aecli_progress", default=None)


def tick(
    done: int,
    total: int | None,
    unit: str = "rows",
    *,
    inner: bool = False,
    stream: bool = False,
    **figures: Any,
) -> None:
    """Report progress to the current listener, if any. `stream`: the reading of a whole input
    in blocks; `inner`: work within one block, which a listener hearing a stream may drop."""
    listener = _listener.get()
    if listener is not None:
        listener(Tick(done, total, unit, figures, inner, stream))


def listening_now() -> bool:
    return _listener.get() is not None


@contextlib.contextmanager
def listening(listener: Listener | None) -> Iterator[None]:
    """Send the ticks of the work done inside the block to `listener` (None: to nobody)."""
    token = _listener.set(listener)
    try:
        yield
    finally:
        _listener.reset(token)
