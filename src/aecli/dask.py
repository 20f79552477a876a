"""Batch inference over a Dask DataFrame: `encode`, `decode`, `denoise` and `score` map a model
over the partitions and return a Dask DataFrame, lazily, in the input's partitions and order.

    >>> import dask.dataframe as dd, aecli.dask
    >>> codes = aecli.dask.encode("model.safetensors", dd.read_parquet("rows/"))
    >>> codes.to_parquet("codes/")

The model is given as its checkpoint path (or a built-in name): each worker process loads it
once, on its first partition, and keeps it (tasks carry the path, not the weights). Dask is an
optional extra (`pip install 'aecli[dask]'`), imported only here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from aecli.errors import UserError

_MODELS: dict[tuple[str, str, str], Any] = {}  # this process's loaded models
_LOCK = threading.Lock()
loads = 0  # how many times this process loaded a checkpoint (tests read it on the workers)


def _dask_dataframe() -> Any:
    try:
        import dask.dataframe as dd
    except ImportError:
        raise UserError(
            "aecli.dask needs Dask: pip install 'aecli[dask]' (dask[dataframe,distributed])"
        ) from None
    return dd


def model_on_worker(model: str, device: str = "cpu", precision: str = "fp32") -> Any:
    """The model at `model`, loaded once per process (thread-safe) and then reused."""
    global loads
    key = (str(model), device, precision)
    with _LOCK:
        if key not in _MODELS:
            from aecli.api import load

            _MODELS[key] = load(model, device=device, precision=precision)
            loads += 1
        return _MODELS[key]


def _map(
    model: Any, ddf: Any, work: Callable[[Any, pd.DataFrame], pd.DataFrame], device: str
) -> Any:
    """`work(model, partition)` over every partition; the result keeps each partition's index."""
    dd = _dask_dataframe()
    if not isinstance(ddf, dd.DataFrame):
        raise UserError(f"give a Dask DataFrame, not {type(ddf).__name__}")
    if not isinstance(model, str | os.PathLike):
        raise UserError(
            "give the model as its checkpoint path (or a built-in name), so that each worker "
            "loads it once instead of receiving its weights with every task"
        )
    path, precision = os.fspath(model), "fp32"

    def one(part: pd.DataFrame) -> pd.DataFrame:
        if len(part) == 0:
            return meta
        out = work(model_on_worker(path, device, precision), part.reset_index(drop=True))
        out.index = part.index
        return out

    first = ddf.head(1, npartitions=-1)  # the output's columns and types, from one real row
    meta = work(model_on_worker(path, device, precision), first.reset_index(drop=True)).iloc[:0]
    return ddf.map_partitions(one, meta=meta)


def encode(model: Any, ddf: Any, keep: Sequence[str] = (), device: str = "auto", **how: Any) -> Any:
    """Codes z1..zK per row (`keep` columns in front), as `Model.encode` with `how`
    (stochastic, with_logvar, seed)."""
    return _map(model, ddf, lambda m, part: m.encode(part, tuple(keep), **how), device)


def decode(model: Any, ddf: Any, keep: Sequence[str] = (), device: str = "auto", **how: Any) -> Any:
    """Rows in the training data's columns from codes z1..zK, as `Model.decode` (tables)."""
    return _map(model, ddf, lambda m, part: m.decode(part, tuple(keep), **how), device)


def denoise(model: Any, ddf: Any, device: str = "auto", **how: Any) -> Any:
    """Every missing cell filled (with `all_cells=True` every cell replaced), as
    `Model.denoise`; the rounds are chosen per partition unless `iterations` is given."""
    return _map(model, ddf, lambda m, part: m.denoise(part, **how)[0], device)


def score(model: Any, ddf: Any, keep: Sequence[str] = (), device: str = "auto", **how: Any) -> Any:
    """Anomaly score, percentile and outlier flag per row, as `Model.score_table`."""
    return _map(
        model, ddf, lambda m, part: _scores(m.score_table(part, tuple(keep), **how)), device
    )


def _scores(table: pd.DataFrame) -> pd.DataFrame:
    table.attrs = {}  # per-partition notes and counts do not describe the whole result
    return table
