"""`evaluate`: how well a model reconstructs and (for a VAE) how likely it finds the data, beside
PCA fitted to the same training rows. Log-likelihoods are in nats per row in the data's own units
(the standardisation's Jacobian is accounted for), so they compare across models.

The data is read block by block: every figure is a sum over rows (or cells) divided at the end,
and the score quantiles come from a seeded sample of at most a million rows (exact below), so
memory does not grow with the rows."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.results import EvaluationFigures, FeatureFigure

if TYPE_CHECKING:
    from aecli.codec import Codec
    from aecli.data.adapter import Rows

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
    model: Codec, x: np.ndarray, y: np.ndarray | None, importance_samples: int, seed: int
) -> EvaluationFigures:
    """The figures `aecli evaluate` prints for model-space rows `x` in memory (from
    schema.to_array) and `y`, the one-hot condition of a conditional model."""
    import pandas as pd

    from aecli.data.adapter import Rows

    return evaluate_blocks(model, [Rows(pd.DataFrame(), x, y)], importance_samples, seed)


def evaluate_blocks(
    model: Codec, blocks: Iterable[Rows], importance_samples: int, seed: int
) -> EvaluationFigures:
    """The figures `aecli evaluate` prints, summed block by block over an adapter's blocks."""
    tally = Tally(model, importance_samples, seed)
    for rows in blocks:
        x = rows.x if isinstance(rows.x, np.ndarray) else np.asarray(rows.x[0 : len(rows.x)])
        tally.add(x, rows.y)
    return tally.figures()


class Tally:
    """Running sums of every `evaluate` figure over the blocks added so far."""

    def __init__(self, model: Codec, importance_samples: int, seed: int) -> None:
        self.model, self.samples = model, importance_samples
        self.pca = model.extras.get("pca")
        self.features = model.adapter.features()
        self.rows = 0
        self.sums: dict[str, float] = dict.fromkeys(
            ("model", "model_n", "pca", "pca_n", "ll", "ll_n", "elbo", "iwae"), 0.0
        )
        self.per_feature = np.zeros((len(self.features), 4))  # model sum, count, pca sum, count
        self.gen = torch.Generator().manual_seed(seed)
        self.scores = ScoreTally(model, importance_samples, seed)

    def add(self, x: np.ndarray, y: np.ndarray | None) -> None:
        model, pca = self.model, self.pca
        recon = model.reconstruct_array(x, y)
        self.rows += len(x)
        self._add_mse("model", recon, x)
        pca_recon = None
        if pca is not None:
            centred = np.nan_to_num(x - pca["mean"])  # a missing cell reads as the mean
            pca_recon = pca["mean"] + centred @ pca["axes"] @ pca["axes"].T
            self._add_mse("pca", pca_recon, x)
            complete = ~np.isnan(x).any(axis=1)  # PPCA's density needs every cell
            if complete.any():
                self.sums["ll"] += float(ppca_log_likelihood(x[complete], pca).sum())
                self.sums["ll_n"] += int(complete.sum())
        self._add_features(x, recon, pca_recon)
        if model.variational:
            elbo, iwae = variational_sums(model, x, y, self.samples, self.gen)
            self.sums["elbo"] += elbo
            self.sums["iwae"] += iwae
        self.scores.add(x, y)

    def _add_mse(self, name: str, recon: np.ndarray, x: np.ndarray) -> None:
        err = (recon.astype(np.float64) - x) ** 2
        present = ~np.isnan(err)
        self.sums[name] += float(err[present].sum())
        self.sums[f"{name}_n"] += int(present.sum())

    def _add_features(self, x: np.ndarray, recon: np.ndarray, pca_recon: np.ndarray | None) -> None:
        """Each table column's squared error (categories: correct labels) and count."""
        for i, c in enumerate(self.features):
            seen = ~np.isnan(x[:, c.start])
            for j, out in enumerate((recon, pca_recon)):
                if out is None:
                    continue
                if c.categorical:
                    block = slice(c.start, c.start + c.width)
                    truth = x[seen, block].argmax(1)
                    hits = float((out[seen, block].argmax(1) == truth).sum())
                else:
                    hits = float(((out[seen, c.start] - x[seen, c.start]) ** 2).sum())
                self.per_feature[i, 2 * j] += hits
                self.per_feature[i, 2 * j + 1] += int(seen.sum())

    def figures(self) -> EvaluationFigures:
        model, s = self.model, self.sums
        jacobian = model.adapter.log_scale()  # log |d x_std / d x_raw|
        figures = EvaluationFigures(
            kind=model.kind, rows=self.rows, data=model.adapter.type, model_mse=_ratio(s, "model")
        )
        if self.pca is not None:
            figures.pca_mse = _ratio(s, "pca")
            if s["ll_n"]:
                figures.pca_log_likelihood = s["ll"] / s["ll_n"] - jacobian
        figures.per_feature = self._feature_figures()
        if model.variational:
            figures.elbo = s["elbo"] / max(self.rows, 1) - jacobian
            figures.iwae_log_likelihood = s["iwae"] / max(self.rows, 1) - jacobian
            figures.importance_samples = self.samples
        _like_with_like(model, figures)
        figures.scores = self.scores.figures()
        return figures

    def _feature_figures(self) -> list[FeatureFigure]:
        """Each table column's error in its own units (categories: label accuracy); none for
        images, whose pixels are summarised by the overall figures."""
        out = []
        for c, sums in zip(self.features, self.per_feature, strict=True):
            unit = 1.0 if c.categorical else c.scale**2
            figure = FeatureFigure(
                c.name, "accuracy" if c.categorical else "mse", _div(sums[0], sums[1]) * unit
            )
            if self.pca is not None:
                figure.pca = _div(sums[2], sums[3]) * unit
            out.append(figure)
        return out


def _ratio(sums: dict[str, float], name: str) -> float:
    return _div(sums[name], sums[f"{name}_n"])


def _div(total: float, count: float) -> float:
    return float(total / count) if count else float("nan")


class ScoreTally:
    """The rows' anomaly scores (default method, see scoring.py): a seeded sample for the
    quantiles, their sum for the mean, and how many lie above the model's own threshold."""

    def __init__(self, model: Codec, samples: int, seed: int) -> None:
        from aecli.reservoir import Reservoir
        from aecli.scoring import Scorer, settings_for

        self.model = model
        self.settings = settings_for(model, None, samples, False, seed)
        self.scorer = Scorer(model, self.settings)
        self.sample = Reservoir(seed=seed)
        self.total, self.above = 0.0, 0
        stored = model.metrics.get("score")
        threshold = stored.get("threshold") if isinstance(stored, dict) else None
        same = isinstance(stored, dict) and stored.get("method") == self.settings.key
        self.threshold = threshold if same else None

    def add(self, x: np.ndarray, y: np.ndarray | None) -> None:
        scores = self.model.apply(self.scorer, x, width=self.scorer.width, y=y)[:, 0]
        self.sample.add(scores)
        self.total += float(scores.astype(np.float64).sum())
        if self.threshold is not None:
            self.above += int((scores > self.threshold).sum())

    def figures(self) -> dict[str, Any]:
        from aecli.scoring import score_figures

        figures = score_figures(self.settings, self.sample.values)
        figures["rows"] = self.sample.seen
        figures["threshold"] = self.threshold
        if self.threshold is not None:
            figures["above_threshold"] = self.above
        figures["mean"] = self.total / self.sample.seen if self.sample.seen else None
        return figures


def score_distribution(
    model: Codec, x: np.ndarray, y: np.ndarray | None, samples: int, seed: int
) -> dict[str, Any]:
    """The anomaly-score figures of rows in memory (see `ScoreTally`)."""
    tally = ScoreTally(model, samples, seed)
    tally.add(x, y)
    return tally.figures()


def _like_with_like(model: Codec, figures: EvaluationFigures) -> None:
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


def variational_sums(
    model: Codec, x: np.ndarray, y: np.ndarray | None, samples: int, gen: torch.Generator
) -> tuple[float, float]:
    """Summed ELBO and IWAE bound (K = `samples`) over the rows, in model-space nats."""
    from aecli.parts.variational import elbo_terms, iwae_bound
    from aecli.progress import tick

    elbo, iwae = 0.0, 0.0
    with torch.no_grad():
        for start in range(0, len(x), BLOCK):
            rows = torch.from_numpy(np.array(x[start : start + BLOCK], dtype=np.float32))
            rows = rows.to(model.device)
            cond = None if y is None else torch.from_numpy(y[start : start + BLOCK]).to(rows.device)
            present = model.likelihood.present(rows)  # missing cells are left out, not zeros
            nll, kl, _ = elbo_terms(model.net, model.likelihood, rows, rows, gen, cond, present)
            elbo -= float((nll + kl).double().sum())
            iwae += float(iwae_bound(model.net, model.likelihood, rows, samples, gen, cond).sum())
            tick(min(start + BLOCK, len(x)), len(x), model.adapter.noun, inner=True)
    return elbo, iwae
