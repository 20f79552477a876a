"""How much of a table input has been read, for progress on long inputs: bytes of the files
finished plus the position in the current one, reported with `aecli.progress.tick` (unit
"bytes", `stream=True`) as blocks are read."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from aecli.data.compression import URL
from aecli.store.atomic import STDIO


class Meter:
    """Bytes of a table input read so far, for progress (`tick` with unit "bytes"): the files
    finished, plus the position in the current one (compressed bytes for a compressed file,
    the share of its rows for Parquet). The total is None where a size is not known (stdin)."""

    def __init__(self, paths: list[str]) -> None:
        sizes = [_size(p) for p in paths]
        self.total = None if None in sizes else sum(s for s in sizes if s is not None)
        self.sizes, self.index, self.before, self.done = sizes, 0, 0, 0
        self.position: Callable[[], int] = lambda: 0
        self._handles: list[Any] = []

    def watch(self, handle: Any) -> Any:
        """Measure the current file by the position of `handle` (closed with the file)."""
        self._handles.append(handle)
        self.position = handle.tell
        return handle

    def report(self, rows: int) -> None:
        from aecli.progress import tick

        self.done = max(self.done, self.before + self.position())  # estimates may step back
        done = min(self.done, self.total or self.done)
        tick(done, self.total, "bytes", stream=True, rows=rows)

    def next_file(self) -> None:
        size = self.sizes[self.index] if self.index < len(self.sizes) else None
        self.before += size if size is not None else self.position()
        self.index += 1
        self.position = lambda: 0
        for handle in self._handles:
            handle.close()
        self._handles = []


def _size(path: str) -> int | None:
    if path == STDIO or URL.match(path):
        return None
    try:
        return os.path.getsize(path)
    except OSError:
        return None
