"""`--shard I/N`: the I-th of N contiguous parts of an input, for job arrays (Slurm's
`--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`). A folder or glob is split by its files
(in path order), one table file by its rows; the N outputs, concatenated in shard order, equal
the output of the whole input."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from aecli.errors import UserError

T = TypeVar("T")
PATTERN = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """An input (`source`) restricted to its `index`-th of `count` contiguous parts. It prints
    as the input, so messages keep naming the user's file."""

    source: Any
    index: int
    count: int

    def __str__(self) -> str:
        return str(self.source)

    def __fspath__(self) -> str:
        return str(self.source)

    def bounds(self, n: int) -> tuple[int, int]:
        """[start, stop) of this part among n items: sizes differ by at most one."""
        return self.index * n // self.count, (self.index + 1) * n // self.count

    def part(self, items: list[T]) -> list[T]:
        start, stop = self.bounds(len(items))
        return items[start:stop]


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """'2/8' -> (2, 8): shards are numbered from 0 (as Slurm's array task ids usually are)."""
    if text is None:
        return None
    match = PATTERN.fullmatch(text.strip())
    if not match or not int(match[1]) < int(match[2]):
        raise UserError(
            f"--shard {text!r} must be I/N with 0 <= I < N, e.g. --shard 0/4 "
            "(or --shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT)"
        )
    return int(match[1]), int(match[2])


def sharded(source: Any, shard: str | None) -> Any:
    """`source`, or its part named by `--shard I/N` (stdin and frames cannot be split)."""
    parsed = parse_shard(shard)
    if parsed is None:
        return source
    if str(source) == "-" or (
        not isinstance(source, str | bytes) and not hasattr(source, "__fspath__")
    ):
        raise UserError("--shard splits a file, a folder or a glob; it cannot split stdin")
    return Shard(source, *parsed)
