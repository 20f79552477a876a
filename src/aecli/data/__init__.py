"""Data adapters: tables and images in, blocks of model-space rows out, and back.

`adapter_for` chooses the adapter by the source; `adapter_from_dict` rebuilds (and validates)
the one a checkpoint holds. Nothing outside this package asks "table or images?".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aecli.data.adapter import Adapter, Fitted
    from aecli.options import TrainOptions

__all__ = ["adapter_for", "adapter_from_dict", "fit_training", "is_image_source"]


def is_image_source(source: Any) -> bool:
    """True for a folder, a glob pattern, or a file with an image suffix."""
    from aecli.data.image_files import is_image_source as images

    return images(source)


def adapter_for(source: Any) -> type[Adapter]:
    """The adapter class that reads `source`: images for a folder, glob or image file; else a
    table (a CSV, TSV or Parquet path, '-' or a DataFrame)."""
    from aecli.data.images import ImageAdapter
    from aecli.data.tables import TableAdapter

    return ImageAdapter if ImageAdapter.accepts(source) else TableAdapter


def fit_training(
    source: Any,
    options: TrainOptions,
    variational: bool,
    stream: bool = False,
    part: tuple[int, int] | None = None,
) -> Fitted:
    """Fit the adapter `source` calls for on it; its model-space rows for training (with
    `stream`, where the adapter can: fresh rows for every batch, see `Fitted.stream`). A NumPy
    array is a table with columns x0, x1, ... With `part` (rank, world), one process of a
    torchrun job: a table keeps only this process's share of the training rows."""
    from aecli.data.table_sources import array_table

    source = array_table(source)
    return adapter_for(source).fit_training(source, options, variational, stream, part)


def adapter_from_dict(data: Any) -> Adapter:
    """The adapter a checkpoint's `schema` describes, validated (CheckpointError)."""
    from aecli.data.images import ImageAdapter
    from aecli.data.tables import TableAdapter
    from aecli.errors import CheckpointError

    if not isinstance(data, dict):
        raise CheckpointError("checkpoint metadata: schema is missing or malformed")
    return (ImageAdapter if data.get("type") == ImageAdapter.type else TableAdapter).from_dict(data)
