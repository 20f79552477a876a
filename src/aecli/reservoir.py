"""A seeded uniform sample of at most `size` numbers from a stream (Algorithm R, one vectorised
step per block): quantiles of millions of anomaly scores in bounded memory, exact while the
stream is no longer than `size`."""

from __future__ import annotations

import numpy as np

SIZE = 1_000_000  # numbers kept (8 MB): quantiles are exact up to this many rows


class Reservoir:
    """Add blocks of numbers with `add`; `values` is the sample (every number while `seen` is
    at most `size`)."""

    def __init__(self, size: int = SIZE, seed: int = 0) -> None:
        self.size, self.seen = size, 0
        self._parts: list[np.ndarray] = []
        self._full: np.ndarray | None = None
        self._rng = np.random.default_rng(seed)

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, np.float64).ravel()
        room = max(0, self.size - self.seen)
        if room:
            self._parts.append(values[:room].copy())
            if self.seen + len(values) >= self.size:
                self._full = np.concatenate(self._parts)
                self._parts = []
        rest = values[room:]
        if len(rest):
            assert self._full is not None
            positions = self.seen + room + np.arange(len(rest))
            slots = self._rng.integers(0, positions + 1)
            take = slots < self.size
            self._full[slots[take]] = rest[take]  # a later number wins a shared slot, as in R
        self.seen += len(values)

    @property
    def values(self) -> np.ndarray:
        if self._full is not None:
            return self._full
        return np.concatenate(self._parts) if self._parts else np.zeros(0)
