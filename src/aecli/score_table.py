"""What `aecli score` writes: one row per input row (or image), in order, with the score, its
percentile among the model's validation scores, the outlier flag and, on request, the columns
that contribute most; and per-pixel error maps of images. See scoring.py for the scores."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.errors import UserError
from aecli.scoring import (
    DEFAULT_CONTAMINATION,
    ScoreSettings,
    score_array,
    settings_for,
    stored_validation,
)

if TYPE_CHECKING:
    from aecli.model import Model


def check_threshold(contamination: float | None, threshold: float | None) -> None:
    """--contamination P and --threshold X: one of them, each in its range."""
    if contamination is not None and threshold is not None:
        raise UserError("give --contamination or --threshold, not both")
    if contamination is not None and not 0 < contamination < 1:
        raise UserError(f"--contamination {contamination}: give a share between 0 and 1, e.g. 0.05")
    if threshold is not None and not math.isfinite(threshold):
        raise UserError(f"--threshold {threshold}: give a finite score")


def score_table(
    model: Model,
    data: Any,
    keep: Sequence[str] = (),
    *,
    method: str | None = None,
    samples: int = 100,
    fast: bool = False,
    contamination: float | None = None,
    threshold: float | None = None,
    explain: int = 0,
    seed: int = 0,
    recursive: bool = False,
) -> pd.DataFrame:
    """The `aecli score` table: `keep` columns (images: `path`), then `score` (higher = more
    anomalous), `percentile` (0-100 among the validation rows' scores; absent when the
    checkpoint holds none for this method), `outlier` (1 above the threshold), and with
    `explain` N the columns explain1..N with their shares explain1_share..N of the row's
    reconstruction loss. `attrs` holds the method, threshold and notes."""
    from aecli.data.tables import join_columns

    check_threshold(contamination, threshold)
    settings = settings_for(model, method, samples, fast, seed)
    if explain < 0:
        raise UserError(f"--explain {explain}: give how many columns to name, e.g. 3")
    if explain and model.is_image:
        raise UserError(
            "--explain names table columns; for an image model write per-pixel error maps "
            "with --heatmaps DIR"
        )
    rows = model.adapter.read(data, keep, recursive)
    values = score_array(model, rows.x, rows.y, settings, explain)
    scores = values[:, 0].astype(np.float64)
    frame = pd.DataFrame({"score": scores})
    validation = stored_validation(model, settings)
    cut = _threshold(scores, validation, contamination, threshold, settings)
    if validation is not None:
        frame["percentile"] = 100.0 * np.searchsorted(validation, scores, "right") / len(validation)
    else:
        settings.notes.append(
            "no percentile: the checkpoint holds no validation scores for this method "
            f"({settings.key}; retrain with this aecli, or score with the default method)"
        )
    frame["outlier"] = (scores > cut).astype(np.int64)
    if explain:
        names = np.array([f.name for f in model.adapter.features()], dtype=object)
        n = (values.shape[1] - 1) // 2
        for i in range(n):
            frame[f"explain{i + 1}"] = names[values[:, 1 + i].astype(np.int64)]
            frame[f"explain{i + 1}_share"] = values[:, 1 + n + i].astype(np.float64)
    out = join_columns(rows.keys, frame)
    out.attrs.update(
        method=settings.key,
        samples=settings.importance_samples,
        threshold=cut,
        outliers=int(frame["outlier"].sum()),
        notes=list(settings.notes),
    )
    return out


def _threshold(
    scores: np.ndarray,
    validation: np.ndarray | None,
    contamination: float | None,
    threshold: float | None,
    settings: ScoreSettings,
) -> float:
    """--threshold X; else the (1 - P) quantile of the validation scores (P: --contamination,
    default 1%), or of these rows' own scores when the checkpoint holds none."""
    if threshold is not None:
        return float(threshold)
    share = DEFAULT_CONTAMINATION if contamination is None else contamination
    if validation is not None:
        return float(np.quantile(validation, 1 - share))
    settings.notes.append(
        f"threshold: the top {100 * share:g}% of these rows' own scores (no validation scores "
        "to set it from)"
    )
    return float(np.quantile(scores, 1 - share)) if len(scores) else math.inf


def write_heatmaps(
    model: Model,
    data: Any,
    out_dir: str | os.PathLike[str],
    *,
    force: bool = False,
    recursive: bool = False,
    inputs: Sequence[Any] = (),
) -> list[Path]:
    """One PNG per image under `out_dir`, named as the image (relative to its folder): the
    absolute error |x - reconstruction| of every pixel, white for the full range; every
    target is checked before the first is written."""
    import torch

    from aecli.data.adapter import block_rows
    from aecli.data.image_files import PATH_COLUMN, image_targets, output_names, write_images

    adapter = model.adapter
    adapter.require("images", "--heatmaps")
    rows = adapter.read(data, recursive=recursive)
    names = output_names(rows.keys[PATH_COLUMN].astype(str).tolist(), len(rows.x))
    targets = image_targets(Path(out_dir), names, force, [data, *inputs])

    def error(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return (model._decode_mean(model.net.encode(x, y), y) - x).abs()

    step = block_rows(model.n_features)
    for start in range(0, len(rows.x), step):
        block = model.apply(error, rows.x[start : start + step], width=model.n_features)
        write_images(adapter.to_images(block), targets[start : start + step], force)
    return targets
