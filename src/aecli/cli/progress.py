"""Training progress on stderr: a rich bar on a terminal, nothing otherwise."""

from __future__ import annotations

from types import TracebackType
from typing import Any


class EpochProgress:
    """A context manager whose `update(record, total)` is the training loop's epoch callback."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> EpochProgress:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("epoch {task.completed}/{task.total}"),
                BarColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("train", total=None, status="")
        return self

    def update(self, record: dict[str, Any], total: int) -> None:
        if self._bar is not None:
            status = f"train {record['train_loss']:.4f}  val {record['val_loss']:.4f}"
            self._bar.update(self._task, completed=record["epoch"], total=total, status=status)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
