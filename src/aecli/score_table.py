"""What `aecli score` writes: one row per input row (or image), in order, with the score, its
percentile among the model's validation scores, the outlier flag and, on request, the columns
that contribute most; and per-pixel error maps of images. See scoring.py for the scores."""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from aecli.errors import UserError
from aecli.scoring import (
    DEFAULT_CONTAMINATION,
    Scorer,
    ScoreSettings,
    settings_for,
    stored_validation,
)

if TYPE_CHECKING:
    from aecli.codec import Codec


# Scores are float32 sums, whose last digits depend on how many rows a block held (a shard's
# blocks are not the whole input's). Within this relative distance two scores are the same
# score, so a validation row scored again gets its own percentile and flag, in any block.
SAME_SCORE = 1e-5


def settled(scores: np.ndarray, side: int = 1) -> np.ndarray:
    """Scores moved by the float32 noise they carry (up: side 1, down: -1), to compare with
    stored scores: a percentile counts the scores at or below, a flag needs one clearly above."""
    return scores + side * SAME_SCORE * np.maximum(1.0, np.abs(scores))


def check_threshold(contamination: float | None, threshold: float | None) -> None:
    """--contamination P and --threshold X: one of them, each in its range."""
    if contamination is not None and threshold is not None:
        raise UserError("give --contamination or --threshold, not both")
    if contamination is not None and not 0 < contamination < 1:
        raise UserError(f"--contamination {contamination}: give a share between 0 and 1, e.g. 0.05")
    if threshold is not None and not math.isfinite(threshold):
        raise UserError(f"--threshold {threshold}: give a finite score")


def score_table(model: Codec, data: Any, keep: Sequence[str] = (), **how: Any) -> pd.DataFrame:
    """The `aecli score` table: `keep` columns (images: `path`), then `score` (higher = more
    anomalous), `percentile` (0-100 among the validation rows' scores; absent when the
    checkpoint holds none for this method), `outlier` (1 above the threshold), and with
    `explain` N the columns explain1..N with their shares explain1_share..N of the row's
    reconstruction loss. `attrs` holds the method, threshold and notes. Options as for
    `score_blocks`."""
    blocks = score_blocks(model, data, keep, **how)
    out = pd.concat(list(blocks), ignore_index=True)
    out.attrs.update(blocks.attrs)
    return out


def score_blocks(
    model: Codec,
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
) -> ScoredBlocks:
    """`score_table` block by block as the input is read (memory does not grow with the rows);
    its `attrs` are complete once every block has been taken."""
    model.require_codes("score")
    check_threshold(contamination, threshold)
    settings = settings_for(model, method, samples, fast, seed)
    if explain < 0:
        raise UserError(f"--explain {explain}: give how many columns to name, e.g. 3")
    if explain and model.is_image:
        raise UserError(
            "--explain names table columns; for an image model write per-pixel error maps "
            "with --heatmaps DIR"
        )
    validation = stored_validation(model, settings)
    if validation is None:
        settings.notes.append(
            "no percentile: the checkpoint holds no validation scores for this method "
            f"({settings.key}; retrain with this aecli, or score with the default method)"
        )
    share = DEFAULT_CONTAMINATION if contamination is None else contamination
    cut = _threshold(validation, share, threshold, settings)
    source = model.adapter.blocks(data, keep, recursive)
    return ScoredBlocks(model, source, settings, validation, cut, share, explain)


class ScoredBlocks:
    """The scored blocks of a source, as frames; `attrs` (method, samples, threshold,
    outliers, notes) are complete after the last. With no threshold known up front (no
    validation scores), the blocks are spooled to a temporary Parquet file while a seeded
    sample of the scores (exact up to a million rows) gives it, then read back flagged."""

    def __init__(
        self,
        model: Codec,
        source: Iterator[Any],
        settings: ScoreSettings,
        validation: np.ndarray | None,
        cut: float | None,
        share: float,
        explain: int,
    ) -> None:
        self.model, self.source, self.settings = model, source, settings
        self.validation, self.cut, self.share = validation, cut, share
        self.scorer = Scorer(model, settings, explain)
        self.names = np.array([f.name for f in model.adapter.features()], dtype=object)
        self.attrs: dict[str, Any] = {
            "method": settings.key,
            "samples": settings.importance_samples,
            "threshold": cut,
            "outliers": 0,
            "notes": settings.notes,
        }

    def __iter__(self) -> Iterator[pd.DataFrame]:
        frames = self._scored() if self.cut is not None else self._spooled()
        for frame in frames:
            assert self.cut is not None
            where = frame.columns.get_loc("score") + 1 + int(self.validation is not None)
            flags = (settled(frame["score"].to_numpy(), -1) > self.cut).astype(np.int64)
            frame.insert(where, "outlier", flags)
            self.attrs["outliers"] += int(flags.sum())
            yield frame

    def _scored(self) -> Iterator[pd.DataFrame]:
        """Each block's keys, score, percentile and explain columns (no outlier flag yet)."""
        from aecli.data.tables import join_columns

        for rows in self.source:
            values = self.model.apply(self.scorer, rows.x, width=self.scorer.width, y=rows.y)
            scores = values[:, 0].astype(np.float64)
            frame = pd.DataFrame({"score": scores})
            if self.validation is not None:
                ranks = np.searchsorted(self.validation, settled(scores), "right")
                frame["percentile"] = 100.0 * ranks / len(self.validation)
            n = (values.shape[1] - 1) // 2
            for i in range(n):
                frame[f"explain{i + 1}"] = self.names[values[:, 1 + i].astype(np.int64)]
                frame[f"explain{i + 1}_share"] = values[:, 1 + n + i].astype(np.float64)
            yield join_columns(rows.keys, frame)

    def _spooled(self) -> Iterator[pd.DataFrame]:
        """The scored blocks through a temporary Parquet file, once their threshold is known."""
        import tempfile

        import pyarrow.parquet as pq

        from aecli.data.table_files import table_sink
        from aecli.reservoir import Reservoir

        sample = Reservoir(seed=self.settings.seed)
        with tempfile.TemporaryDirectory(prefix="aecli-score-") as folder:
            spool = Path(folder) / "scores.parquet"
            with table_sink(spool, force=True) as sink:
                for frame in self._scored():
                    sample.add(frame["score"].to_numpy())
                    sink.write(frame)
            scores = sample.values
            self.cut = float(np.quantile(scores, 1 - self.share)) if len(scores) else math.inf
            self.attrs["threshold"] = self.cut
            for batch in pq.ParquetFile(spool).iter_batches():
                yield batch.to_pandas()


def _threshold(
    validation: np.ndarray | None,
    share: float,
    threshold: float | None,
    settings: ScoreSettings,
) -> float | None:
    """--threshold X; else the (1 - P) quantile of the validation scores (P: --contamination,
    default 1%); None when it must come from these rows' own scores (no validation scores)."""
    if threshold is not None:
        return float(threshold)
    if validation is not None:
        return float(np.quantile(validation, 1 - share))
    settings.notes.append(
        f"threshold: the top {100 * share:g}% of these rows' own scores (no validation scores "
        "to set it from)"
    )
    return None


def write_heatmaps(
    model: Codec,
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
