"""Progress on stderr while a command works: on a terminal a rich bar with an ETA; otherwise (a
batch job's log) a plain line every `--log-every` seconds with the same figures; nothing with
--quiet. It listens to the library's ticks (`aecli.progress`): one mechanism for every command."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

DEFAULT_EVERY = 30.0


def clock(seconds: float) -> str:
    """12 s, 3 min 05 s, 2 h 04 min."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def figures_text(figures: dict[str, Any], short: bool = False) -> str:
    """The training figures of a tick: epoch, losses, best so far (`short`: for a bar)."""
    parts = []
    if "epoch" in figures:
        parts.append(f"epoch {figures['epoch']}/{figures['epochs']}")
    for key, name in (("train_loss", "train"), ("val_loss", "val")):
        if figures.get(key) is not None:
            parts.append(f"{name}{'' if short else ' loss'} {figures[key]:.4g}")
    if figures.get("best") is not None and "train_loss" in figures:
        where = f"@{figures['best_epoch']}" if short else f" (epoch {figures['best_epoch']})"
        parts.append(f"best {figures['best']:.4g}{where}")
    return (" " if short else ", ").join(parts)


def size_text(n: float) -> str:
    """1.2 kB, 34.5 MB, 1.02 GB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}" if n < 100 * scale else f"{n / scale:.0f} {unit}"
    return f"{n:.0f} B"


def count_text(tick: Any) -> str:
    """`1200/5000 steps`; for bytes of a streamed input `12.5 MB/80 MB, 120000 rows`."""
    done, total = tick.done, tick.total
    if tick.unit != "bytes":
        return f"{done}/{total or '?'} {tick.unit}"
    shown = f"{size_text(done)}/{size_text(total)}" if total else size_text(done)
    rows = tick.figures.get("rows")
    return shown if rows is None else f"{shown}, {rows} rows"


class Progress:
    """A listener for the ticks of the work done inside `with Progress(...)`.

    `what` names the work ("train", "encode"). On a terminal a transient rich bar shows done /
    total, the figures and the time left; otherwise a line goes to `stream` at most every
    `every` seconds (0: every tick), starting `every` seconds in, so quick commands print none."""

    def __init__(
        self,
        what: str,
        quiet: bool = False,
        every: float = DEFAULT_EVERY,
        stream: TextIO | None = None,
        terminal: bool | None = None,
    ) -> None:
        self.what, self.quiet, self.every = what, quiet, every
        self.stream = stream if stream is not None else sys.stderr
        self.terminal = self.stream.isatty() if terminal is None else terminal
        self.figures: dict[str, Any] = {}
        self._bar: Any = None
        self._task: Any = None
        self._context: Any = None
        self._pass_start = self._last_line = time.monotonic()
        self._last_done = 0
        self._total: int | None = None
        self._unit = ""
        self._streaming = False
        self.lines = 0

    def __enter__(self) -> Progress:
        from aecli.progress import listening

        if self.quiet:
            return self
        if self.terminal:
            self._open_bar()
        self._context = listening(self)
        self._context.__enter__()
        return self

    def _open_bar(self) -> None:
        import rich.progress as rp
        from rich.console import Console

        self._bar = rp.Progress(
            rp.TextColumn("{task.description}"),
            rp.BarColumn(bar_width=24),
            rp.TextColumn("{task.fields[count]}"),
            rp.TextColumn("{task.fields[status]}"),
            rp.TimeElapsedColumn(),
            rp.TextColumn("ETA"),
            rp.TimeRemainingColumn(),
            console=Console(file=self.stream),
            transient=True,
        )
        self._bar.__enter__()
        self._task = self._bar.add_task(self.what, total=None, count="", status="")

    def __call__(self, tick: Any) -> None:
        if tick.inner and self._streaming:  # the stream's own ticks tell the whole pass
            return
        self._streaming = self._streaming or tick.stream
        now = time.monotonic()
        if tick.done < self._last_done or tick.total != self._total:  # a new pass of work
            self._pass_start = now
            if tick.unit != self._unit:
                self.figures = {}
            if self._bar is not None:
                self._bar.reset(self._task, total=tick.total)
        self._last_done, self._total, self._unit = tick.done, tick.total, tick.unit
        self.figures.update(tick.figures)
        if self._bar is not None:
            count = count_text(tick)
            status = figures_text(self.figures, short=True)
            self._bar.update(
                self._task, completed=tick.done, total=tick.total, count=count, status=status
            )
        elif now - self._last_line >= self.every:
            self._last_line = now
            status = figures_text(self.figures)
            self.stream.write(self.line(tick, now - self._pass_start, status) + "\n")
            self.stream.flush()
            self.lines += 1

    def line(self, tick: Any, elapsed: float, status: str) -> str:
        """`train: 1200/5000 steps (24%), epoch 12/50, train loss 0.12, ..., 1 min 02 s
        elapsed, about 3 min 16 s left`."""
        done, total = tick.done, tick.total
        parts = [f"{self.what}: {count_text(tick)}"]
        if total:
            parts[0] += f" ({100 * done / total:.0f}%)"
        if status:
            parts.append(status)
        parts.append(f"{clock(elapsed)} elapsed")
        if total and done and elapsed > 0:
            parts.append(f"about {clock(elapsed * (total - done) / done)} left")
        return ", ".join(parts)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._context is not None:
            self._context.__exit__(exc_type, exc, tb)
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
