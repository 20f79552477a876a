"""Typed results: the training metrics a checkpoint keeps, the summary `train` prints, and the
figures `evaluate` prints. Each has one `to_dict()` (the `--json` shape) that the human
renderers and the JSON output both start from, so the two cannot drift apart. No torch here."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

# Below this many training rows the figures are noise and the PCA comparison is unreliable.
MIN_ROWS = 50
# A baseline error at or below this (standardised units) is "already perfect": no ratio.
TINY_ERROR = 1e-6
# A VAE's latent unit is active when its posterior mean varies across rows by more than this
# (Burda et al., 2016); an inactive one carries no information about x.
ACTIVE_VARIANCE = 0.01


def meaningful_ratio(model: float, baseline: float) -> float | None:
    """model / baseline, or None where the baseline is zero, tiny or not a number."""
    if not (math.isfinite(model) and math.isfinite(baseline)) or baseline <= TINY_ERROR:
        return None
    return model / baseline


@dataclass
class TrainingMetrics:
    """Reconstruction errors (standardised units) after training, beside PCA's on the same
    held-out rows; kept in the checkpoint (`model.metrics` is its `to_dict()`)."""

    split: str  # "validation", or "training" when no rows were held out
    rows_train: int
    rows_val: int
    train_mse: float
    val_mse: float
    pca_val_mse: float  # of the baseline: PCA, or for a denoiser the unchanged input
    ratio_to_pca: float | None = None
    baseline: str = "pca"  # "pca", or "input" (a denoiser is compared with doing nothing)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        if self.baseline == "pca":
            del out["baseline"]  # the figures of the bottleneck kinds keep their shape
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingMetrics:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class TrainingSummary:
    """What `train` reports: `--json` prints `to_dict()`, stderr gets `render.train_summary`."""

    output: str
    kind: str
    data: str  # "table" or "images"
    columns: int  # the user's input columns (or pixels per image), not the one-hot width
    model_width: int  # model-space width: one slot per number, one per category label
    latent_dim: int
    epochs_run: int
    planned_epochs: int
    steps_run: int
    best_epoch: int
    stopped_early: bool
    seconds: float
    metrics: TrainingMetrics
    notes: list[str] = field(default_factory=list)  # why the run differs from what was asked
    scores: dict[str, Any] | None = None  # the held-out rows' anomaly scores (scoring.py)

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out.pop("metrics")
        return {**out, **self.metrics.to_dict()}


@dataclass
class FeatureFigure:
    """One column's reconstruction: MSE in the column's own units, or, for a category,
    the accuracy of the most likely label."""

    column: str
    measure: str  # "mse" or "accuracy"
    model: float
    pca: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, f"model_{self.measure}": self.model}
        if self.pca is not None:
            out[f"pca_{self.measure}"] = self.pca
        return out


@dataclass
class EvaluationFigures:
    """What `evaluate` reports. Log-likelihoods are nats per row (per image) in data units."""

    kind: str
    rows: int
    data: str  # "table" or "images"
    model_mse: float
    pca_mse: float | None = None
    pca_log_likelihood: float | None = None
    elbo: float | None = None
    iwae_log_likelihood: float | None = None
    importance_samples: int | None = None
    per_feature: list[FeatureFigure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    scores: dict[str, Any] | None = None  # the rows' anomaly-score distribution (scoring.py)

    @property
    def row_word(self) -> str:
        return "images" if self.data == "images" else "rows"

    @property
    def mse_units(self) -> str:
        if self.data == "images":
            return "pixel intensities in [0, 1]"
        return "standardised units"

    @property
    def units(self) -> str:
        per = "per image" if self.data == "images" else "per row"
        feature = "" if self.data == "images" else " (per column: the column's own units)"
        return f"reconstruction MSE in {self.mse_units}{feature}; log-likelihoods in nats {per}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows, "kind": self.kind, "data": self.data}
        mse: dict[str, float] = {"model": self.model_mse}
        if self.pca_mse is not None:
            mse["pca"] = self.pca_mse
        out["reconstruction_mse"] = mse
        if self.pca_log_likelihood is not None:
            out["pca_log_likelihood"] = self.pca_log_likelihood
        out["per_feature"] = [f.to_dict() for f in self.per_feature]
        for name in ("elbo", "iwae_log_likelihood", "importance_samples"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.scores is not None:
            out["scores"] = self.scores
        out["units"] = self.units
        out["notes"] = list(self.notes)
        return out

    def __getitem__(self, key: str) -> Any:
        """Read like the dict earlier versions returned: `figures["elbo"]`."""
        return self.to_dict()[key]


def summarise_training(model: Any, output: str) -> TrainingSummary:
    """The summary of a finished `aecli.train` run, in the user's columns (or pixels)."""
    from aecli.training import planned_epochs, planned_steps

    metrics = TrainingMetrics.from_dict(model.metrics)
    images = bool(model.is_image)
    columns = model.architecture.n_features if images else len(model.schema.columns)
    opts, history = model.options, model.history
    batch = min(opts.batch_size, max(1, metrics.rows_train))
    per_epoch = math.ceil(metrics.rows_train / batch) if metrics.rows_train else 0
    planned = history.get("epochs_planned", planned_epochs(opts, max(1, metrics.rows_train)))
    summary = TrainingSummary(
        output=str(output),
        kind=model.kind,
        data="images" if images else "table",
        columns=columns,
        model_width=model.architecture.n_features,
        latent_dim=model.latent_dim,
        epochs_run=history["epochs_run"],
        planned_epochs=planned,
        steps_run=history.get("steps_run", history["epochs_run"] * per_epoch),
        best_epoch=history["best_epoch"],
        stopped_early=history["stopped_early"],
        seconds=round(model.train_seconds or 0.0, 3),
        metrics=metrics,
    )
    summary.notes = _training_notes(summary, opts, planned_steps(opts, max(1, metrics.rows_train)))
    scores = model.metrics.get("score")
    summary.scores = scores if isinstance(scores, dict) else None
    return summary


def _training_notes(s: TrainingSummary, opts: Any, planned: int) -> list[str]:
    """Where the run differs from what was asked, or its figures deserve little trust."""
    notes = []
    rows = "images" if s.data == "images" else "rows"
    if s.metrics.rows_train < MIN_ROWS:
        notes.append(
            f"only {s.metrics.rows_train} training {rows}: figures from so few are unreliable "
            f"and the model will not generalise; give at least {MIN_ROWS}"
        )
    if opts.epochs is None and opts.steps is not None and planned < opts.steps:
        notes.append(
            f"{planned} optimiser steps planned for --steps {opts.steps} (the cap of 5000 epochs)"
        )
    if s.metrics.ratio_to_pca is None and s.metrics.baseline == "pca":
        notes.append(
            "no comparison with PCA: its error on these rows is zero or too small to divide by"
        )
    return notes


def score_line(scores: dict[str, Any] | None, rows: str = "validation rows") -> str | None:
    """One line on an anomaly-score distribution: its quantiles and the outlier threshold."""
    if not scores or not scores.get("quantiles"):
        return None
    q = scores["quantiles"]
    shown = ", ".join(f"{name[1:]}% {value:.4g}" for name, value in q.items())
    line = f"anomaly scores ({scores['method']}) of {scores['rows']} {rows}: {shown}"
    if scores.get("threshold") is not None:
        line += f"; outlier threshold (99th percentile) {scores['threshold']:.4g}"
    return line
