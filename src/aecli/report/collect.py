"""What a report is drawn from: a sample of the data's rows in model space, their codes and
reconstructions, the label to colour them by, and `evaluate`'s figures on the same rows."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.errors import DataError

if TYPE_CHECKING:
    from aecli.model import Model
    from aecli.results import EvaluationFigures

MAX_ROWS = 2000  # rows (images) a report draws from; larger data is sampled at random
IMPORTANCE_SAMPLES = 16  # a VAE's IWAE estimate in the report: a few samples suffice to show it


@dataclass
class Evidence:
    """The rows a report shows, with everything computed on them."""

    source: str
    total_rows: int  # rows in the data (or the selection) before sampling
    x: np.ndarray  # model-space rows
    y: np.ndarray | None
    frame: pd.DataFrame | None  # tables: the source rows themselves
    names: list[str]  # images: file names
    recon: np.ndarray
    codes: np.ndarray
    figures: EvaluationFigures
    labels: pd.Series | None = None
    label_name: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return len(self.x)


def gather(
    model: Model,
    data: Any,
    *,
    label: str | None = None,
    held_out: bool = False,
    max_rows: int = MAX_ROWS,
    seed: int = 0,
    source: str | None = None,
) -> Evidence:
    """Read `data` with the model's adapter (with `held_out`, only the rows training held out for
    validation), sample at most `max_rows` of them, and compute codes, reconstructions and the
    evaluation figures."""
    from aecli.evaluation import evaluate_model

    rows = model.adapter.read(data)
    n = len(rows.x)
    index = _validation_rows(model, n) if held_out else np.arange(n)
    total = len(index)
    if total == 0:
        raise DataError(f"{source or data} has no rows to report on")
    if total > max_rows:
        index = np.sort(np.random.default_rng(seed).choice(index, max_rows, replace=False))
    x = _take(rows.x, index)
    y = None if rows.y is None else rows.y[index]
    frame = None if rows.frame is None else rows.frame.iloc[index].reset_index(drop=True)
    names = _names(rows.keys, index)
    labels = _labels(label, frame, names, source or str(data))
    recon = model.reconstruct_array(x, y)
    codes = model.apply(model.net.encode, x, width=model.latent_dim, y=y)
    figures = evaluate_model(model, x, y, IMPORTANCE_SAMPLES, seed)
    return Evidence(
        source=source or str(data),
        total_rows=total,
        x=x,
        y=y,
        frame=frame,
        names=names,
        recon=recon,
        codes=codes,
        figures=figures,
        labels=labels,
        label_name=label,
    )


def _take(x: Any, index: np.ndarray) -> np.ndarray:
    """Rows `index` of model-space rows: an array, or image rows read file by file."""
    if isinstance(x, np.ndarray):
        return x[index]
    from aecli.data.images import ImageRows

    if isinstance(x, ImageRows):
        picked = ImageRows(x.schema, [x.files[i] for i in index])
        return np.asarray(picked[0 : len(picked)], dtype=np.float32)
    return np.asarray(x[0 : len(x)], dtype=np.float32)[index]


def _names(keys: pd.DataFrame, index: np.ndarray) -> list[str]:
    if "path" in keys.columns:
        return [str(p) for p in keys["path"].to_numpy()[index]]
    return []


def _labels(
    label: str | None, frame: pd.DataFrame | None, names: list[str], source: str
) -> pd.Series | None:
    """The values to colour the code map by: a column of a table, or for images `folder` (the
    image's folder name) or a regular expression matched against the file name (its first group,
    else the whole match)."""
    if label is None:
        return None
    if frame is not None:
        if label not in frame.columns:
            shown = ", ".join(map(str, list(frame.columns)[:8]))
            raise DataError(f"--label {label!r} is not a column of {source}; its columns: {shown}")
        return frame[label].reset_index(drop=True)
    if label == "folder":
        return pd.Series([Path(p).parent.name for p in names])
    try:
        pattern = re.compile(label)
    except re.error as exc:
        raise DataError(
            f"--label {label!r}: for images give 'folder' or a regular expression over the file "
            f"name, such as '-(\\d+)\\.png$' ({exc})"
        ) from None
    found = [pattern.search(Path(p).name) for p in names]
    if not any(found):
        raise DataError(f"--label {label!r} matches none of the image file names in {source}")
    return pd.Series([(m.group(1) if m.groups() else m.group(0)) if m else "" for m in found])


def _validation_rows(model: Model, n: int) -> np.ndarray:
    """The rows `train` held out for validation (the same seeded split); all rows when it held
    none out, or trained on random crops of images (whose rows are not the files)."""
    from aecli.data.adapter import split_rows

    if getattr(model.adapter, "patches", False):
        return np.arange(n)
    _, val = split_rows(n, model.options.val_fraction, model.options.seed)
    return val if len(val) else np.arange(n)
