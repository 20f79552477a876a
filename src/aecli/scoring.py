"""Anomaly scores: how surprising each row (or image) is to a trained model, higher = more
anomalous, in one pass of `Codec.apply` over blocks of rows.

Two methods (`METHODS`):

- "reconstruction": the row's reconstruction loss under the per-column likelihoods the model
  trained with, averaged over its present cells: squared error in standardised units for
  numbers, cross-entropy in nats for categories (one term per column, so a wide categorical
  does not dominate) and for Bernoulli columns or pixels. Missing cells are left out.
- "likelihood": -log p(x) in nats per row in the data's own units (the standardisation's
  Jacobian counted), over the present cells. For a VAE the importance-weighted bound with K
  samples (IWAE; K = 1 with `fast` is the ELBO). For the deterministic kinds the model is read
  as a density: p(z) the mixture fitted to the training codes, p(x | z) the decoder's output
  with one residual scale per column (the probabilistic-PCA construction with the network in
  place of the linear maps). The residuals are Student-t with `RESIDUAL_DOF` degrees of freedom,
  their scales measured on the validation rows: on the training rows an autoencoder's residuals
  are too small, and a Gaussian then lets one column the model happened to fit closely decide
  the score (measured in benchmarks/bench_score.py; checkpoints written before this version
  keep the Gaussian on training-row variances they were calibrated with). The code density is
  the training codes' BIC mixture with each component made spherical (its total variance in
  every direction, `parts.density.spherical`): a full covariance whitens the direction the
  codes vary most along, where rows that are simply larger than normal lie (breast cancer's
  malignant rows: 0.955 ROC AUC with the full mixture, 0.960 spherical, in
  benchmarks/bench_score.py). Checkpoints written before keep the mixture they stored.

Training stores the residual scales and the scores of the validation rows (the default
method) in the checkpoint's `score` extras, which give each new score its percentile and the
default outlier threshold (the 99th percentile).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.errors import UserError
from aecli.parts.density import spherical

if TYPE_CHECKING:
    from aecli.codec import Codec

METHODS = ("reconstruction", "likelihood")
DEFAULT_SAMPLES = 100  # importance samples of a VAE's likelihood score
DEFAULT_CONTAMINATION = 0.01  # the default threshold flags the top 1% of validation rows
MAX_VALIDATION = 5000  # validation scores kept in a checkpoint (a seeded subsample beyond)
QUANTILES = (0.5, 0.9, 0.95, 0.99)
VARIANCE_FLOOR = 1e-2  # of the mean residual variance: a column fitted perfectly stays finite
RESIDUAL_DOF = 10.0  # degrees of freedom of the Student-t residuals of the likelihood score
MIN_HELD_OUT = 10  # fewer held-out rows than this: residual scales from all rows
CODE = "code_"  # the score extras' own code density: code_weights, code_means, code_covariances
CODE_SHAPE = "spherical"  # what a checkpoint records of its code density; older ones: "full"
RESIDUALS = f"student-t{RESIDUAL_DOF:g}"  # what a checkpoint records; older ones: "gaussian"


@dataclass
class ScoreSettings:
    """How rows are scored: the method, a VAE's importance samples (`fast`: the ELBO) and the
    seed of its Monte-Carlo draws."""

    method: str
    samples: int = DEFAULT_SAMPLES
    fast: bool = False
    seed: int = 0
    variational: bool = False
    notes: list[str] = field(default_factory=list)
    residuals: str = RESIDUALS  # the deterministic kinds' likelihood: RESIDUALS or "gaussian"

    @property
    def dof(self) -> float | None:
        """The Student-t residuals' degrees of freedom; None for Gaussian residuals."""
        return RESIDUAL_DOF if self.residuals == RESIDUALS else None

    @property
    def importance_samples(self) -> int | None:
        """K of an importance-sampled likelihood; None where no sampling is done."""
        likely = self.variational and self.method == "likelihood" and not self.fast
        return self.samples if likely else None

    @property
    def key(self) -> str:
        """What the scores estimate: stored validation scores are comparable only under the
        same key."""
        return f"{self.method}-elbo" if self.fast else self.method


def default_method(model: Codec) -> str:
    """The method of the checkpoint's stored validation scores, when it holds them; else
    likelihood for every VAE and for the deterministic kinds' tables, and reconstruction for
    their images (per-pixel residual scales from a few validation images ranked MNIST anomalies
    worse than the pixel error itself: benchmarks/README.md) and for checkpoints without the
    code density and residual scales."""
    stored = model.metrics.get("score")
    if isinstance(stored, dict) and stored.get("method") in METHODS:
        return str(stored["method"])
    if model.variational:
        return "likelihood"
    if not model.is_image and _stored(model, "variance") is not None and _has_density(model):
        return "likelihood"
    return "reconstruction"


def settings_for(
    model: Codec, method: str | None, samples: int, fast: bool, seed: int
) -> ScoreSettings:
    """The checked settings (one line naming the problem and the fix when they do not fit)."""
    if method is not None and method not in METHODS:
        raise UserError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    chosen = method or default_method(model)
    if samples < 1:
        raise UserError(f"-K {samples}: the number of importance samples must be at least 1")
    if fast and not (model.variational and chosen == "likelihood"):
        raise UserError("--fast (the ELBO instead of importance sampling) is for VAE likelihoods")
    stored = _has_density(model) and _stored(model, "variance") is not None
    if chosen == "likelihood" and not model.variational and not stored:
        raise UserError(
            "this checkpoint has no code density or residual variances (trained by an older "
            "aecli): score it with --method reconstruction, or retrain it"
        )
    settings = ScoreSettings(chosen, samples, fast, seed, model.variational)
    settings.residuals = _residuals(model)
    return settings


def _residuals(model: Codec) -> str:
    """The residual model the checkpoint's scores were calibrated with (before this version:
    Gaussian on training-row variances)."""
    figures = model.metrics.get("score")
    found = figures.get("residuals") if isinstance(figures, dict) else None
    return RESIDUALS if found == RESIDUALS else "gaussian"


def _stored(model: Codec, name: str) -> np.ndarray | None:
    return model.extras.get("score", {}).get(name)


def _has_density(model: Codec) -> bool:
    return "density" in model.extras


def score_density(model: Codec) -> dict[str, np.ndarray] | None:
    """The code density of the likelihood score: the score's own (since CODE_SHAPE, the
    spherical mixture; before, the mixture BIC chose where `sample` draws from another) or else
    the model's `density` (checkpoints written before the score kept its own)."""
    stored = model.extras.get("score", {})
    own = {k[len(CODE) :]: v for k, v in stored.items() if k.startswith(CODE)}
    return own or model.extras.get("density")


class Scorer:
    """The per-block score function of one model and settings (torch tensors prepared once)."""

    def __init__(self, model: Codec, settings: ScoreSettings, explain: int = 0) -> None:
        self.model, self.s, self.explain = model, settings, explain
        lik = model.likelihood
        self.gen = torch.Generator().manual_seed(settings.seed)
        features = model.adapter.features()
        log_scale = np.zeros(len(lik.kinds), np.float32)
        for j, f in enumerate(features):
            log_scale[j] = 0.0 if f.categorical else np.log(f.scale)
        self.log_scale = torch.from_numpy(log_scale)
        variance = _stored(model, "variance")
        slots = np.ones(model.n_features, np.float32) if variance is None else variance
        self.logvar = torch.from_numpy(np.log(slots).astype(np.float32))
        columns = torch.from_numpy(slots)[lik.starts]  # one variance per column, for explain
        scalar = torch.tensor([k == "gaussian" for k in lik.kinds])
        self.column_var = torch.where(scalar, columns, torch.ones_like(columns))
        density = score_density(model)
        self.density = (
            None if density is None else {k: torch.from_numpy(v) for k, v in density.items()}
        )
        self._to(model.device)

    def _to(self, device: torch.device) -> None:
        """The prepared tensors on the device the model computes on."""
        self.log_scale, self.logvar = self.log_scale.to(device), self.logvar.to(device)
        self.column_var = self.column_var.to(device)
        if self.density is not None:
            self.density = {k: v.to(device) for k, v in self.density.items()}

    @property
    def width(self) -> int:
        return 1 + 2 * self.explain

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        """(rows, 1 + 2N): the score, then the N top columns' indices and shares."""
        model, lik = self.model, self.model.likelihood
        present = lik.present(x)
        mask = (
            torch.ones(len(x), len(lik.kinds), device=x.device)
            if present is None
            else present.float()
        )
        target = x.nan_to_num(0.0)
        code = model.net.encode(x, y)
        out = model.net.decode(code, y)
        cells = lik.column_losses(out, target) * mask
        if self.s.method == "reconstruction":
            score = cells.sum(1) / mask.sum(1).clamp(min=1)
        else:
            score = self._likelihood(x, y, out, target, present, code) + mask @ self.log_scale
        parts = [score[:, None]]
        if self.explain:
            surprise = cells / self.column_var
            share = surprise / surprise.sum(1, keepdim=True).clamp(min=1e-12)
            top = torch.topk(share, min(self.explain, share.shape[1]), dim=1)
            parts += [top.indices.to(score.dtype), top.values]
        return torch.cat(parts, dim=1)

    def _likelihood(
        self,
        x: torch.Tensor,
        y: torch.Tensor | None,
        out: torch.Tensor,
        target: torch.Tensor,
        present: torch.Tensor | None,
        code: torch.Tensor,
    ) -> torch.Tensor:
        """-log p(x) in model-space nats (the Jacobian is added by the caller)."""
        model, lik = self.model, self.model.likelihood
        if model.variational:
            from aecli.parts.variational import elbo_terms, iwae_bound

            if self.s.fast:
                nll, kl, _ = elbo_terms(model.net, lik, x, x, self.gen, y, present)
                return nll + kl
            return -iwae_bound(model.net, lik, x, self.s.samples, self.gen, y)
        from aecli.parts.density import mixture_log_density

        assert self.density is not None
        nll = lik.nll(out, target, self.logvar, present, dof=self.s.dof)
        return nll - mixture_log_density(self.density, code).to(nll.dtype)


def score_array(
    model: Codec, x: Any, y: np.ndarray | None, settings: ScoreSettings, explain: int = 0
) -> np.ndarray:
    """(rows, 1 + 2N) for model-space rows: the score, then with `explain` N the indices and
    shares of the N columns contributing most to the reconstruction loss."""
    model.require_codes("score")
    scorer = Scorer(model, settings, explain)
    return model.apply(scorer, x, width=scorer.width, y=y)


def fit_score_extras(
    model: Codec,
    train: tuple[np.ndarray, np.ndarray | None],
    held_out: tuple[np.ndarray, np.ndarray | None],
    seed: int,
    density: dict[str, np.ndarray] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """What training stores for scoring: each column's residual scale (the mean squared
    residual on the held-out rows, or on all rows when fewer than MIN_HELD_OUT were held out),
    the code density of the deterministic kinds' likelihood score (`density`, by default the
    `density` extras, made spherical; stored as code_weights, code_means, code_covariances),
    and the sorted scores (default
    method) of the held-out rows (at most MAX_VALIDATION); with the figures the summary shows
    (quantiles, default threshold)."""
    rows, cond = held_out
    if len(rows) < MIN_HELD_OUT:
        both = [a for a in (train, held_out) if len(a[0])]
        x = np.concatenate([a[0] for a in both]) if both else np.zeros((0, model.n_features))
        y = None if not both or both[0][1] is None else np.concatenate([a[1] for a in both])
    else:
        x, y = held_out
    extras: dict[str, np.ndarray] = {"variance": residual_variances(model, x, y)}
    source = density if density is not None else model.extras.get("density")
    own = None if model.variational or source is None else spherical(source)
    if own is not None:
        extras.update({f"{CODE}{name}": value for name, value in own.items()})
    model.extras["score"] = extras
    method = default_method(model)
    settings = ScoreSettings(method, seed=seed, variational=model.variational)
    if len(rows) > MAX_VALIDATION:
        keep = np.sort(np.random.default_rng(seed).choice(len(rows), MAX_VALIDATION, replace=False))
        rows, cond = rows[keep], None if cond is None else cond[keep]
    scores = np.sort(score_array(model, rows, cond, settings)[:, 0]).astype(np.float32)
    extras["validation"] = scores
    figures = score_figures(settings, scores)
    if own is not None:
        figures["code_density"] = CODE_SHAPE
    return extras, figures


def residual_variances(model: Codec, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """Each model-space slot's mean squared residual on rows `x` (missing cells left out),
    floored at VARIANCE_FLOOR of their mean so that a column fitted exactly stays finite."""
    if not len(x):
        return np.ones(model.n_features, np.float32)
    total, count = model.residual_sums(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        residual = np.nan_to_num(total / count, nan=1.0)  # a column with no present cell: 1
    floor = max(VARIANCE_FLOOR * float(residual.mean()), 1e-8)
    return np.maximum(residual, floor).astype(np.float32)


def score_figures(settings: ScoreSettings, scores: np.ndarray) -> dict[str, Any]:
    """The stored scores' method, count, quantiles and the default threshold (JSON-ready)."""
    quantiles = {f"q{round(100 * q)}": float(np.quantile(scores, q)) for q in QUANTILES}
    threshold = float(np.quantile(scores, 1 - DEFAULT_CONTAMINATION)) if len(scores) else None
    likelihood = settings.method == "likelihood" and not settings.variational
    return {
        "method": settings.key,
        "residuals": settings.residuals if likelihood else None,
        "samples": settings.importance_samples,
        "rows": len(scores),
        "quantiles": quantiles if len(scores) else {},
        "threshold": threshold,
    }


def stored_validation(model: Codec, settings: ScoreSettings) -> np.ndarray | None:
    """The checkpoint's sorted validation scores when they measure what `settings` do."""
    figures = model.metrics.get("score")
    scores = _stored(model, "validation")
    if scores is None or not isinstance(figures, dict) or not len(scores):
        return None
    return scores if figures.get("method") == settings.key else None
