"""`evaluate`: how well a model reconstructs and (for a VAE) how likely it finds the data, beside
PCA fitted to the same training rows. Log-likelihoods are in nats per row in the data's own units
(the standardisation's Jacobian is accounted for), so they compare across models."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
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
    return evaluate_blocks(model, [(x, y)], importance_samples, seed)


def evaluate_blocks(
    model: Model,
    blocks: Iterable[tuple[Any, np.ndarray | None]],
    importance_samples: int,
    seed: int,
) -> EvaluationFigures:
    """`evaluate_model` over blocks of (x, y) as they are read: sums and counts are kept, never
    the rows, so memory does not grow with the data."""
    totals = _Totals(model, importance_samples, seed)
    for x, y in blocks:
        totals.add(np.asarray(x, dtype=np.float32), y)
    return totals.figures()


class _Totals:
    """Running sums of squared errors, hits and log-likelihoods, and their counts."""

    def __init__(self, model: Model, importance_samples: int, seed: int) -> None:
        self.model, self.samples = model, importance_samples
        self.pca = model.extras.get("pca")
        self.features = model.adapter.features()
        self.gen = torch.Generator().manual_seed(seed)
        self.sums: dict[str, float] = defaultdict(float)  # name -> sum; name + "#" -> count
        self.rows = 0

    def _add(self, name: str, values: np.ndarray) -> None:
        present = values[~np.isnan(values)]
        self.sums[name] += float(present.astype(np.float64).sum())
        self.sums[name + "#"] += present.size

    def mean(self, name: str) -> float:
        count = self.sums.get(name + "#", 0)
        return self.sums[name] / count if count else float("nan")

    def add(self, x: np.ndarray, y: np.ndarray | None) -> None:
        self.rows += len(x)
        recon = self.model.reconstruct_array(x, y)
        self._add("model", (recon - x) ** 2)
        pca_recon = None
        if self.pca is not None:
            pca = self.pca
            centred = np.nan_to_num(x - pca["mean"])  # a missing cell reads as the mean
            pca_recon = pca["mean"] + centred @ pca["axes"] @ pca["axes"].T
            self._add("pca", (pca_recon - x) ** 2)
            complete = ~np.isnan(x).any(axis=1)  # PPCA's density needs every cell
            if complete.any():
                self._add("pca_ll", ppca_log_likelihood(x[complete], pca))
        for c in self.features:
            self._add_feature(c, x, recon, pca_recon)
        if self.model.variational:
            elbo, iwae = variational_sums(self.model, x, y, self.samples, self.gen)
            self._add("elbo", elbo)
            self._add("iwae", iwae)

    def _add_feature(
        self, c: Any, x: np.ndarray, recon: np.ndarray, pca_recon: np.ndarray | None
    ) -> None:
        start = c.start
        for who, out in (("model", recon), ("pca", pca_recon)):
            if out is None:
                continue
            if c.categorical:  # categories: accuracy of the most likely label
                block = slice(start, start + c.width)
                seen = ~np.isnan(x[:, start])
                truth = x[seen, block].argmax(1)
                hits = (out[seen, block].argmax(1) == truth).astype(np.float64)
                self._add(f"{who}:{c.name}", hits)
            else:
                self._add(f"{who}:{c.name}", (out[:, start] - x[:, start]) ** 2 * c.scale**2)

    def figures(self) -> EvaluationFigures:
        model = self.model
        jacobian = model.adapter.log_scale()  # log |d x_std / d x_raw|
        figures = EvaluationFigures(
            kind=model.kind, rows=self.rows, data=model.adapter.type, model_mse=self.mean("model")
        )
        if self.pca is not None:
            figures.pca_mse = self.mean("pca")
            if self.sums.get("pca_ll#"):
                figures.pca_log_likelihood = self.mean("pca_ll") - jacobian
        for c in self.features:
            score = FeatureFigure(
                c.name, "accuracy" if c.categorical else "mse", self.mean(f"model:{c.name}")
            )
            if self.pca is not None:
                score.pca = self.mean(f"pca:{c.name}")
            figures.per_feature.append(score)
        if model.variational:
            figures.elbo = self.mean("elbo") - jacobian
            figures.iwae_log_likelihood = self.mean("iwae") - jacobian
            figures.importance_samples = self.samples
        _like_with_like(model, figures)
        return figures


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
    gen = torch.Generator().manual_seed(seed)
    elbo, iwae = variational_sums(model, x, y, samples, gen)
    return float(elbo.mean()), float(iwae.mean())


def variational_sums(
    model: Model, x: np.ndarray, y: np.ndarray | None, samples: int, gen: torch.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ELBO and IWAE bound (K = `samples`), in model-space nats."""
    from aecli.parts.variational import elbo_terms, iwae_bound

    elbos, iwaes = [], []
    with torch.no_grad():
        for start in range(0, len(x), BLOCK):
            rows = torch.from_numpy(np.array(x[start : start + BLOCK], dtype=np.float32))
            cond = None if y is None else torch.from_numpy(y[start : start + BLOCK])
            nll, kl, _ = elbo_terms(model.net, model.likelihood, rows, rows, gen, cond)
            elbos.append(-(nll + kl))
            iwaes.append(iwae_bound(model.net, model.likelihood, rows, samples, gen, cond))
    return torch.cat(elbos).double().numpy(), torch.cat(iwaes).double().numpy()
