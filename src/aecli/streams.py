"""Commands that stream: model rows block by block as the input is read."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import pandas as pd


def decode_blocks(
    model: Any, codes: Any, keep: Sequence[str] = (), probabilities: bool = False
) -> Iterator[Any]:
    """`Model.decode` block by block as the codes are read."""
    from aecli.data.table_sources import array_table
    from aecli.data.table_stream import table_blocks

    codes = array_table(codes, model.code_columns)  # an array of codes: z1..zK

    types = dict.fromkeys(model.code_columns, "float")
    cond = model.adapter.condition
    if cond is not None:
        types[cond.name] = cond.dtype
    blocks = (b.frame for b in table_blocks(codes, None, types))
    if not model.adapter.streams_out:  # e.g. numbered images: names need every row
        blocks = iter([pd.concat(list(blocks), ignore_index=True)])
    for frame in blocks:
        frame = frame.reset_index(drop=True)
        keys = model.adapter.code_keys(frame, keep)
        labels, y = model._condition_of_codes(frame)
        codes_x = model._codes(frame)
        recon = model.apply(model._decode_mean, codes_x, width=model.n_features, y=y)
        yield model.adapter.rows_out(recon, keys, probabilities=probabilities, labels=labels)


def inference_threads(n_params: int, rows: int) -> int:
    """Torch threads for a forward pass over blocks of `rows` rows: by the size of the work (as
    training chooses), and one while the machine is already busy, where a second thread only
    spins (measured: encode of 100k rows took 2x the CPU time on two threads under load)."""
    from aecli.training import CHOSEN_THREADS, auto_threads

    if CHOSEN_THREADS.get() is not None:  # inside training: its choice, so results match
        return int(CHOSEN_THREADS.get() or 1)
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] > cores - 0.5 if hasattr(os, "getloadavg") else False
    return 1 if busy else auto_threads(n_params, rows)
