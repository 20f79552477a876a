"""`evaluate`: how well a model reconstructs and (for a VAE) how likely it finds the data, beside
PCA fitted to the same training rows. Log-likelihoods are in nats per row in the data's own units
(the standardisation's Jacobian is accounted for), so they compare across models."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.results import EvaluationFigures, FeatureFigure

if TYPE_CHECKING:
    from aecli.model import Model

BLOCK = 1024


def ppca_log_likelihood(x: np.ndarray, pca: dict[str, np.ndarray]) -> np.ndarray:
    """log N(x | mean, V diag(lambda) V^T + sigma^2 (I - V V^T)) per row (Tipping & Bishop)."""
    axes, lam = pca["axes"].astype(np.float64), pca["variances"].astype(np.float64)
    sigma2 = float(pca["noise_variance"][0])
    d, k = axes.shape
    centred = x.astype(np.float64) - pca["mean"]
    proj = centred @ axes
    if k < d and sigma2 <= 0:
        return np.full(len(x), np.nan)
    rest = (centred**2).sum(1) - (proj**2).sum(1)
    maha = (proj**2 / lam).sum(1) + (rest / sigma2 if k < d else 0.0)
    logdet = np.log(lam).sum() + ((d - k) * math.log(sigma2) if k < d else 0.0)
    return -0.5 * (d * math.log(2 * math.pi) + logdet + maha)


def evaluate_model(
    model: Model, x: np.ndarray, y: np.ndarray | None, importance_samples: int, seed: int
) -> EvaluationFigures:
    """The figures `aecli evaluate` prints; `x` is in model space (from schema.to_array), `y`
    the one-hot condition of a conditional model."""
    jacobian = model.adapter.log_scale()  # log |d x_std / d x_raw|
    recon = model.reconstruct_array(x, y)
    pca = model.extras.get("pca")
    figures = EvaluationFigures(
        kind=model.kind,
        rows=len(x),
        data=model.adapter.type,
        model_mse=float(np.nanmean((recon - x) ** 2)),
    )
    pca_recon = None
    if pca is not None:
        centred = np.nan_to_num(x - pca["mean"])  # a missing cell reads as the mean
        pca_recon = pca["mean"] + centred @ pca["axes"] @ pca["axes"].T
        figures.pca_mse = float(np.nanmean((pca_recon - x) ** 2))
        complete = ~np.isnan(x).any(axis=1)  # PPCA's density needs every cell
        if complete.any():
            ll = ppca_log_likelihood(x[complete], pca) - jacobian
            figures.pca_log_likelihood = float(ll.mean())
    figures.per_feature = _per_feature(model, x, recon, pca_recon)
    if model.variational:
        elbo, iwae = variational_bounds(model, x, y, importance_samples, seed)
        figures.elbo = elbo - jacobian
        figures.iwae_log_likelihood = iwae - jacobian
        figures.importance_samples = importance_samples
    _like_with_like(model, figures)
    figures.scores = score_distribution(model, x, y, importance_samples, seed)
    return figures


def score_distribution(
    model: Model, x: np.ndarray, y: np.ndarray | None, samples: int, seed: int
) -> dict[str, Any]:
    """The rows' anomaly scores (default method, see scoring.py): quantiles, mean, and how
    many lie above the model's own outlier threshold."""
    from aecli.scoring import ScoreSettings, default_method, score_array, score_figures

    settings = ScoreSettings(default_method(model), samples, False, seed, model.variational)
    scores = score_array(model, x, y, settings)[:, 0]
    figures = score_figures(settings, scores)
    stored = model.metrics.get("score")
    threshold = stored.get("threshold") if isinstance(stored, dict) else None
    if threshold is not None and stored.get("method") == settings.key:
        figures["threshold"] = threshold
        figures["above_threshold"] = int((scores > threshold).sum())
    else:
        figures["threshold"] = None
    figures["mean"] = float(scores.mean()) if len(scores) else None
    return figures


def _per_feature(
    model: Model, x: np.ndarray, recon: np.ndarray, pca_recon: np.ndarray | None
) -> list[FeatureFigure]:
    """Each table column's error in its own units (categories: label accuracy); none for
    images, whose pixels are summarised by the overall figures."""
    out = []
    for c in model.adapter.features():
        start = c.start
        if c.categorical:  # categories: accuracy of the most likely label
            block = slice(start, start + c.width)
            seen = ~np.isnan(x[:, start])
            truth = x[seen, block].argmax(1)
            score = FeatureFigure(c.name, "accuracy", _accuracy(recon[seen, block], truth))
            if pca_recon is not None:
                score.pca = _accuracy(pca_recon[seen, block], truth)
        else:
            err = float(np.nanmean((recon[:, start] - x[:, start]) ** 2) * c.scale**2)
            score = FeatureFigure(c.name, "mse", err)
            if pca_recon is not None:
                score.pca = float(np.nanmean((pca_recon[:, start] - x[:, start]) ** 2) * c.scale**2)
        out.append(score)
    return out


def _accuracy(scores: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean(scores.argmax(1) == truth)) if len(truth) else float("nan")


def _like_with_like(model: Model, figures: EvaluationFigures) -> None:
    """PPCA is a Gaussian density over every slot; beside a model whose likelihood is not
    Gaussian everywhere (Bernoulli pixels, categories) the two numbers measure different
    things, so PCA's is withdrawn with a note saying why."""
    if figures.pca_log_likelihood is None or not model.variational:
        return
    kinds = set(model.adapter.kinds_and_widths()[0])
    if kinds <= {"gaussian"}:
        return
    figures.pca_log_likelihood = None
    what = model.adapter.feature_noun
    figures.notes.append(
        f"no PCA log-likelihood: this model scores {what} with a {'/'.join(sorted(kinds))} "
        "likelihood (probabilities of discrete values), probabilistic PCA with a Gaussian "
        "density; the two are not comparable"
    )


def variational_bounds(
    model: Model, x: np.ndarray, y: np.ndarray | None, samples: int, seed: int
) -> tuple[float, float]:
    """Mean ELBO and IWAE bound (K = `samples`) over the rows, in model-space nats."""
    from aecli.parts.variational import elbo_terms, iwae_bound
    from aecli.progress import tick

    gen = torch.Generator().manual_seed(seed)
    elbos, iwaes = [], []
    with torch.no_grad():
        for start in range(0, len(x), BLOCK):
            rows = torch.from_numpy(np.array(x[start : start + BLOCK], dtype=np.float32))
            rows = rows.to(model.device)
            cond = None if y is None else torch.from_numpy(y[start : start + BLOCK]).to(rows.device)
            present = model.likelihood.present(rows)  # missing cells are left out, not zeros
            nll, kl, _ = elbo_terms(model.net, model.likelihood, rows, rows, gen, cond, present)
            elbos.append(-(nll + kl))
            iwaes.append(iwae_bound(model.net, model.likelihood, rows, samples, gen, cond))
            tick(min(start + BLOCK, len(x)), len(x), model.adapter.noun)
    return float(torch.cat(elbos).float().mean()), float(torch.cat(iwaes).float().mean())
