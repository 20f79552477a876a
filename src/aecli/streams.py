"""Commands that stream: model rows block by block as the input is read."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd

from aecli.errors import DataError


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
        labels, y = condition_of_codes(model, frame)
        codes_x = codes_of(model, frame)
        recon = model.apply(model._decode_mean, codes_x, width=model.n_features, y=y)
        yield model.adapter.rows_out(recon, keys, probabilities=probabilities, labels=labels)


def condition_of_codes(model: Any, frame: pd.DataFrame) -> tuple[list[str] | None, Any]:
    cond = model.adapter.condition
    if cond is None:
        return None, None
    hint = " (encode with --keep COLUMN to carry it along)"
    y = model.adapter.condition_of(frame, hint)
    return frame[cond.name].map(str).tolist(), y


def codes_of(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The code columns z1..zK of a codes table, checked."""
    missing = [c for c in model.code_columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"the codes need columns {model.code_columns[0]}..{model.code_columns[-1]} "
            f"(this model has {model.latent_dim}); missing: {', '.join(missing[:5])}"
        )
    wider = [c for c in frame.columns if str(c)[:1] == "z" and str(c)[1:].isdigit()]
    if len(wider) > model.latent_dim:
        raise DataError(
            f"the codes have {len(wider)} code columns (z1..z{len(wider)}) but this model's "
            f"code has {model.latent_dim} (z1..z{model.latent_dim}); decode them with the model "
            "that encoded them"
        )
    values = frame[model.code_columns]
    if not all(pd.api.types.is_numeric_dtype(values[c]) for c in model.code_columns):
        raise DataError("the code columns must hold numbers only")
    array = values.to_numpy(dtype=np.float32)
    if not np.isfinite(array).all():
        raise DataError("the code columns hold missing or infinite values; fix those rows")
    return array


def inference_threads(n_params: int, rows: int) -> int:
    """Torch threads for a forward pass over blocks of `rows` rows: by the size of the work (as
    training chooses), and one while the machine is already busy, where a second thread only
    spins (measured: encode of 100k rows took 2x the CPU time on two threads under load)."""
    from aecli.threads import CHOSEN_THREADS, auto_threads

    if CHOSEN_THREADS.get() is not None:  # inside training: its choice, so results match
        return int(CHOSEN_THREADS.get() or 1)
    cores = os.cpu_count() or 1
    busy = os.getloadavg()[0] > cores - 0.5 if hasattr(os, "getloadavg") else False
    return 1 if busy else auto_threads(n_params, rows)
