"""Issue 4 benchmark: how real do generated rows look? A classifier two-sample test (C2ST).

Data: sample_data/breast_cancer.csv (569 rows x 30 float columns). The rows are shuffled with a
split seed (0 for the main table) and split into 70% training rows (398) and 30% held-out rows
(171). Every sampler sees only the training rows; aecli additionally keeps its default 10% of them
for early stopping.

Protocol, for one sampler, one temperature and one sample seed s (s = 0, 1, 2; each cell is the
mean over the seeds and, after "±", their standard deviation):
  1. draw n = 171 rows (as many as the held-out set) with seed s;
  2. label the held-out real rows 0 and the generated rows 1 (342 rows, balanced);
  3. score `RandomForestClassifier(n_estimators=100, random_state=s)` by ROC AUC with
     `StratifiedKFold(5, shuffle=True, random_state=s)` (`cross_val_score`), averaging the folds.
An AUC of 0.5 means the forest cannot tell generated from real rows; 1.0 means it always can.

Samplers (every generated row is clipped to the training rows' per-column range, which
`Model.sample` does itself, so the baselines get the same help):
- real training rows: 171 of the training rows drawn without replacement (the floor);
- single Gaussian: the training rows' mean and full covariance;
- GMM on raw rows: scikit-learn `GaussianMixture` (full covariances) on the standardised training
  rows, components chosen by BIC among 1-10;
- PCA + mixture: the same BIC-chosen mixture on the scores of PCA with k components, decoded by
  the PCA axes (no added noise);
- aecli: `aecli.train(kind=..., latent_dim=k, seed=0, threads=1)` at the kind's defaults
  (4000-step budget, patience 50) unless the settings column says otherwise, sampled with
  `model.sample(n, seed=s, temperature=T, source=...)`: "prior" (VAE only: z ~ N(0, T^2 I)) or
  "codes" (the BIC-chosen Gaussian mixture aecli fits to the training codes).
The temperature T scales the spread of z (prior) or of each mixture component, for the baselines'
mixtures too. `Model.sample` returns the decoder's mean E[x | z], so its rows lie on a k-dimensional
surface; two diagnostic samplers (NOT aecli features, measured at T = 1 only) show what adding the
missing observation noise does:
- "+ residual noise": independent Gaussian noise with the per-column standard deviation of the
  model's reconstruction residuals on the training rows (public API only);
- "+ decoder noise" (VAE): x = mean + sigma * eps with the VAE's own learned per-column sigma
  (read from `model.net.dec_logvar`, an internal), i.e. a true draw from p(x | z).

Finally the best aecli sampler (lowest mean AUC over its temperatures) and the baselines are
re-measured on three fresh train/held-out splits (split seeds 1, 2, 3; models retrained) so that
picking the best of many settings on one split does not flatter it.

Run from the repository root:  .venv/bin/python benchmarks/bench_sampling.py [--quick]
(about 19 minutes on 2 busy cores; --quick: k = 8, VAE and undercomplete only, about 4 minutes)
Other modes (RESULTS-issue4.md sections 3-4): --density-study, --kde-check, and --product-check
0,1,2,3 (the shipped --code-density / --components settings through the public API, ~4 min).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

import aecli
from aecli.api import split_rows

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "sample_data" / "breast_cancer.csv"
OUT = ROOT / "benchmarks" / "out"
HELD_OUT = 0.3
SAMPLE_SEEDS = (0, 1, 2)
TEMPERATURES = (0.8, 0.9, 1.0, 1.2)
TARGET = 0.62
Generator = Callable[[int, int, float], np.ndarray]  # (n, seed, temperature) -> raw rows


def c2st_auc(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    """Cross-validated ROC AUC of a random forest telling `fake` rows (1) from `real` rows (0)."""
    x = np.vstack([real, fake])
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(forest, x, y, cv=folds, scoring="roc_auc").mean())


def split(frame: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded shuffle into (training rows, held-out rows)."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_held = round(HELD_OUT * len(frame))
    held, train = np.sort(order[:n_held]), np.sort(order[n_held:])
    return frame.iloc[train].reset_index(drop=True), frame.iloc[held].reset_index(drop=True)


@dataclass
class Mixture:
    """A Gaussian mixture sampled with seeded numpy, its spread scaled by a temperature."""

    weights: np.ndarray
    means: np.ndarray
    chols: np.ndarray

    @classmethod
    def fit_bic(cls, rows: np.ndarray, max_components: int = 10, seed: int = 0) -> Mixture:
        """Full-covariance mixture with the BIC-best number of components (1..max, >= 20 rows
        per component)."""
        best, best_bic = None, np.inf
        for m in range(1, max_components + 1):
            if m > 1 and len(rows) < 20 * m:
                break
            gm = GaussianMixture(m, covariance_type="full", reg_covar=1e-6, random_state=seed)
            gm.fit(rows)
            bic = gm.bic(rows)
            if bic < best_bic:
                best, best_bic = gm, bic
        assert best is not None
        return cls(best.weights_, best.means_, np.linalg.cholesky(best.covariances_))

    def sample(self, n: int, seed: int, temperature: float) -> np.ndarray:
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights), size=n, p=self.weights / self.weights.sum())
        eps = rng.standard_normal((n, self.means.shape[1]))
        return self.means[comp] + temperature * np.einsum("nij,nj->ni", self.chols[comp], eps)


class Baselines:
    """Samplers fitted with numpy and scikit-learn on the standardised training rows."""

    def __init__(self, train: np.ndarray) -> None:
        self.train = train
        self.mean, self.std = train.mean(0), train.std(0)
        self.z = (train - self.mean) / self.std

    def real(self) -> tuple[Generator, str]:
        def gen(n: int, seed: int, temperature: float) -> np.ndarray:
            pick = np.random.default_rng(seed).choice(len(self.train), n, replace=False)
            return self.train[pick]

        return gen, f"held-out-sized draw of the {len(self.train)}"

    def gaussian(self) -> tuple[Generator, str]:
        single = Mixture(
            np.ones(1), self.z.mean(0)[None], np.linalg.cholesky(np.cov(self.z.T))[None]
        )
        return (lambda n, s, t: single.sample(n, s, t) * self.std + self.mean), "full covariance"

    def raw_mixture(self) -> tuple[Generator, str]:
        mix = Mixture.fit_bic(self.z)
        gen: Generator = lambda n, s, t: mix.sample(n, s, t) * self.std + self.mean  # noqa: E731
        return gen, f"{len(mix.weights)} components (BIC)"

    def pca_mixture(self, k: int) -> tuple[Generator, str]:
        centre = self.z.mean(0)
        _, _, vt = np.linalg.svd(self.z - centre, full_matrices=False)
        axes = vt[:k].T
        mix = Mixture.fit_bic((self.z - centre) @ axes)

        def gen(n: int, seed: int, temperature: float) -> np.ndarray:
            return (centre + mix.sample(n, seed, temperature) @ axes.T) * self.std + self.mean

        return gen, f"{len(mix.weights)} components (BIC)"


def aecli_sampler(model: aecli.Model, source: str, columns: list[str]) -> Generator:
    """`model.sample` as a generator of raw rows in `columns` order."""

    def gen(n: int, seed: int, temperature: float) -> np.ndarray:
        frame = model.sample(n, seed=seed, temperature=temperature, source=source)
        return frame[columns].to_numpy(np.float64)

    return gen


def with_noise(gen: Generator, sd: np.ndarray) -> Generator:
    """`gen` plus independent Gaussian noise of per-column standard deviation `sd`."""

    def noisy(n: int, seed: int, temperature: float) -> np.ndarray:
        rows = gen(n, seed, temperature)
        rng = np.random.default_rng(10_000 + seed)
        return rows + temperature * sd * rng.standard_normal(rows.shape)

    return noisy


def residual_sd(model: aecli.Model, train: pd.DataFrame) -> np.ndarray:
    """Per-column standard deviation of the reconstruction residuals, in data units."""
    return (train - model.reconstruct(train)[train.columns]).to_numpy().std(0)


def decoder_sd(model: aecli.Model) -> np.ndarray:
    """A VAE's learned per-column likelihood sigma, in data units (reads internals)."""
    logvar = model.net.dec_logvar.detach().clamp(-12, 12).numpy().astype(np.float64)
    return np.exp(0.5 * logvar) * np.array([c.scale for c in model.schema.columns])


@dataclass
class Config:
    """One aecli training setting."""

    kind: str
    k: int
    options: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        return ", ".join(f"{a}={b}" for a, b in self.options.items()) or "defaults"


@dataclass
class Row:
    """One sampler's AUCs: temperature -> one AUC per sample seed."""

    name: str
    k: str
    detail: str
    aucs: dict[float, list[float]]
    seconds: float
    config: Config | None = None  # set for pure aecli samplers
    source: str = ""
    dcr: float | None = None  # density study only: see `dcr_ratio`

    def cell(self, t: float) -> str:
        if t not in self.aucs:
            return "-"
        a = np.array(self.aucs[t])
        return f"{a.mean():.3f} ± {a.std():.3f}"

    def best(self) -> tuple[float, float]:
        """(lowest mean AUC, its temperature)."""
        means = {t: float(np.mean(v)) for t, v in self.aucs.items()}
        t = min(means, key=lambda key: means[key])
        return means[t], t


class Split:
    """One train/held-out split and the C2ST against its held-out rows."""

    def __init__(self, frame: pd.DataFrame, seed: int, temperatures: tuple[float, ...]) -> None:
        self.train_df, held_df = split(frame, seed)
        self.columns = list(frame.columns)
        self.train = self.train_df.to_numpy(np.float64)
        self.held = held_df.to_numpy(np.float64)
        self.low, self.high = self.train.min(0), self.train.max(0)
        self.temperatures = temperatures
        self.rows: list[Row] = []

    def measure(self, gen: Generator, temperatures: tuple[float, ...]) -> dict[float, list[float]]:
        out: dict[float, list[float]] = {}
        for t in temperatures:
            out[t] = []
            for s in SAMPLE_SEEDS:
                fake = np.clip(gen(len(self.held), s, t), self.low, self.high)
                out[t].append(c2st_auc(self.held, fake, s))
        return out

    def add(
        self,
        name: str,
        k: str,
        make: Callable[[], tuple[Generator, str]],
        temperatures: tuple[float, ...] | None = None,
    ) -> None:
        started = time.perf_counter()
        gen, detail = make()
        seconds = time.perf_counter() - started
        aucs = self.measure(gen, temperatures or self.temperatures)
        self.rows.append(Row(name, k, detail, aucs, seconds))
        self.print_row(self.rows[-1])

    def add_aecli(self, cfg: Config, sources: tuple[str, ...], diagnostics: bool) -> None:
        started = time.perf_counter()
        model = aecli.train(
            self.train_df, kind=cfg.kind, latent_dim=cfg.k, seed=0, threads=1, **cfg.options
        )
        seconds = time.perf_counter() - started
        comps = len(model.extras["density"]["weights"])
        for source in sources:
            name, k = f"aecli {cfg.kind}, {source}", str(cfg.k)
            detail = cfg.label() + (f"; {comps} comp." if source == "codes" else "")
            gen = aecli_sampler(model, source, self.columns)
            row = Row(name, k, detail, self.measure(gen, self.temperatures), seconds, cfg, source)
            self.rows.append(row)
            self.print_row(row)
            if not diagnostics:
                continue
            noisy = {"residual": residual_sd(model, self.train_df)}
            if model.variational and hasattr(model.net, "dec_logvar"):
                noisy["decoder"] = decoder_sd(model)
            for label, sd in noisy.items():
                aucs = self.measure(with_noise(gen, sd), (1.0,))
                self.rows.append(Row(f"{name} + {label} noise", k, detail, aucs, seconds))
                self.print_row(self.rows[-1])

    def print_header(self) -> None:
        temps = " | ".join(f"T = {t:g}" for t in self.temperatures)
        print(f"\n| sampler | k | settings | {temps} | fit s |")
        print("|---|---:|---|" + "---:|" * len(self.temperatures) + "---:|", flush=True)

    def print_row(self, r: Row) -> None:
        cells = " | ".join(r.cell(t) for t in self.temperatures)
        print(f"| {r.name} | {r.k} | {r.detail} | {cells} | {r.seconds:.1f} |", flush=True)


def run_split(
    frame: pd.DataFrame,
    seed: int,
    configs: list[Config],
    dims: tuple[int, ...],
    temperatures: tuple[float, ...],
    diagnostics: bool,
    sources: dict[str, tuple[str, ...]] | None = None,
) -> list[Row]:
    """The baselines and every aecli setting on one split."""
    sp = Split(frame, seed, temperatures)
    base = Baselines(sp.train)
    sp.print_header()
    sp.add("real training rows (floor)", "-", base.real, (1.0,))
    sp.add("single Gaussian", "-", base.gaussian)
    sp.add("GMM on raw rows", "-", base.raw_mixture)
    for k in dims:
        sp.add("PCA + mixture", str(k), lambda k=k: base.pca_mixture(k))
    for cfg in configs:
        default = ("prior", "codes") if cfg.kind == "vae" else ("codes",)
        sp.add_aecli(cfg, (sources or {}).get(cfg.kind, default), diagnostics)
    return sp.rows


# ---------------------------------------------------------------------------------------------
# Code-density study (added 2026-11-26): kernel density / aggregate posterior over the codes,
# and a decoder noise calibrated on validation residuals, prototyped here in-process.


def whitened_sq_distances(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pairwise squared Mahalanobis distances under the points' covariance, its Cholesky)."""
    cov = np.cov(points.T) + 1e-9 * np.eye(points.shape[1])
    chol = np.linalg.cholesky(cov)
    y = np.linalg.solve(chol, (points - points.mean(0)).T).T
    sq = (y**2).sum(1)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * y @ y.T, 0.0), chol


def scott_factor(n: int, k: int) -> float:
    """Scott's rule: kernel covariance factor^2 * cov(points)."""
    return float(n ** (-1.0 / (k + 4)))


def loo_factor(points: np.ndarray, grid: np.ndarray | None = None) -> float:
    """The bandwidth factor h (kernel covariance h^2 * cov(points)) that maximises the
    leave-one-out log-likelihood of the points under their own Gaussian kernel density."""
    k = points.shape[1]
    d2, _ = whitened_sq_distances(points)
    np.fill_diagonal(d2, np.inf)
    grid = np.geomspace(0.05, 1.5, 40) if grid is None else grid
    scores = []
    for h in grid:
        log_kernel = -0.5 * d2 / h**2 - k * np.log(h)
        top = log_kernel.max(1, keepdims=True)
        scores.append(float((top[:, 0] + np.log(np.exp(log_kernel - top).sum(1))).sum()))
    return float(grid[int(np.argmax(scores))])


def kde_mixture(points: np.ndarray, factor: float, corrected: bool = False) -> Mixture:
    """One Gaussian per point, all with covariance factor^2 * cov(points). `corrected`: the
    variance-corrected smoothed bootstrap (Silverman 1986, 6.4.1): centres shrunk towards the
    mean by 1 / sqrt(1 + h^2) and kernels scaled the same way, so the mixture keeps the points'
    covariance instead of inflating it by (1 + h^2)."""
    _, chol = whitened_sq_distances(points)
    n, k = points.shape
    shrink = 1.0 / np.sqrt(1.0 + factor**2) if corrected else 1.0
    centre = points.mean(0)
    means = centre + shrink * (points - centre)
    return Mixture(np.full(n, 1.0 / n), means, np.broadcast_to(shrink * factor * chol, (n, k, k)))


def aggregate_posterior(mu: np.ndarray, logvar: np.ndarray) -> Mixture:
    """A VAE's aggregate posterior q(z) = mean_i N(mu_i, diag(exp(logvar_i)))."""
    sd = np.exp(0.5 * logvar)
    chols = np.einsum("ij,jk->ijk", sd, np.eye(mu.shape[1]))
    return Mixture(np.full(len(mu), 1.0 / len(mu)), mu, chols)


def dcr_ratio(train: np.ndarray, held: np.ndarray, fake: np.ndarray) -> float:
    """Median distance of generated rows to their nearest training row over the same for the
    held-out real rows (columns standardised by the training SD): ~1 when generated rows are as
    novel as new real rows, towards 0 when they copy training rows."""
    sd = train.std(0)

    def nearest(rows: np.ndarray) -> np.ndarray:
        diff = (rows[:, None, :] - train[None, :, :]) / sd
        return np.sqrt((diff**2).sum(-1)).min(1)

    return float(np.median(nearest(fake)) / np.median(nearest(held)))


def decoded(model: aecli.Model, mix: Mixture, columns: list[str]) -> Generator:
    """Codes drawn from `mix` (spread scaled by T) and decoded to E[x | z]."""

    def gen(n: int, seed: int, temperature: float) -> np.ndarray:
        z = mix.sample(n, seed, temperature).astype(np.float32)
        rows = model.decode(pd.DataFrame(z, columns=model.code_columns))
        return rows[columns].to_numpy(np.float64)

    return gen


def validation_rms(model: aecli.Model, train: pd.DataFrame) -> np.ndarray:
    """Per-column root mean square reconstruction residual on aecli's own validation rows (the
    10% it held out from training with seed 0), in data units: a calibrated decoder SD."""
    _, val_rows = split_rows(len(train), 0.1, 0)
    rows = train.iloc[val_rows].reset_index(drop=True)
    residual = (rows - model.reconstruct(rows)[rows.columns]).to_numpy()
    return np.sqrt((residual**2).mean(0))


def with_correlated_noise(gen: Generator, cov: np.ndarray) -> Generator:
    """`gen` plus Gaussian noise with full covariance `cov` (spread scaled by T)."""
    chol = np.linalg.cholesky(cov + 1e-12 * np.diag(np.diag(cov)) + 1e-300)

    def noisy(n: int, seed: int, temperature: float) -> np.ndarray:
        rows = gen(n, seed, temperature)
        eps = np.random.default_rng(10_000 + seed).standard_normal(rows.shape)
        return rows + temperature * eps @ chol.T

    return noisy


def residual_cov(model: aecli.Model, train: pd.DataFrame) -> np.ndarray:
    """Covariance of the reconstruction residuals on all training rows, in data units."""
    residual = (train - model.reconstruct(train)[train.columns]).to_numpy()
    return np.cov(residual.T)


def fixed_gmm(codes: np.ndarray, m: int) -> Mixture:
    """A full-covariance mixture of m components on the codes (no BIC choice)."""
    gm = GaussianMixture(m, covariance_type="full", reg_covar=1e-5, random_state=0).fit(codes)
    return Mixture(gm.weights_, gm.means_, np.linalg.cholesky(gm.covariances_))


@dataclass
class StudyModel:
    """One aecli setting for the density study."""

    kind: str
    k: int
    options: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        opts = ", ".join(f"{a}={b}" for a, b in self.options.items())
        return f"{self.kind} k={self.k}" + (f" {opts}" if opts else "")


STUDY_MODELS = [
    StudyModel("vae", 8, {"beta": 0.25}),
    StudyModel("vae", 12, {"beta": 0.25}),
    StudyModel("vae", 16, {"beta": 0.25}),
    StudyModel("vae", 12),
    StudyModel("undercomplete", 8),
    StudyModel("undercomplete", 12),
    StudyModel("undercomplete", 16),
    StudyModel("denoising", 8),
    StudyModel("denoising", 12),
    StudyModel("denoising", 16),
]


# The samplers carried from the split-0 exploration (`--density-study 0 --all-samplers`) to the
# fresh splits: every VAE sampler within reach of the target on split 0, plus the plain
# references (prior, BIC mixture) of each model and the best of the deterministic kinds.
STUDY_CANDIDATES = {
    "real training rows (floor)",
    "GMM on raw rows",
    "KDE on raw rows, LOO",
    "PCA k=12 + KDE, LOO",
    *[
        f"vae k={k} beta=0.25, {s}"
        for k in (8, 12, 16)
        for s in (
            "prior",
            "prior + residual-cov noise",
            "aggregate posterior",
            "codes GMM",
            "codes KDE LOO",
            "codes KDE LOO corrected",
            "codes KDE Scott corrected",
            "codes KDE h=0.5",
        )
    ],
    "vae k=12, prior",
    "vae k=12, prior + residual-cov noise",
    "vae k=12, codes GMM + residual-cov noise",
    *[f"undercomplete k={k}, codes GMM" for k in (8, 12, 16)],
    *[f"undercomplete k={k}, codes GMM m={m}" for k in (8, 12, 16) for m in (8, 16)],
    *[f"denoising k={k}, codes GMM" for k in (8, 12, 16)],
    *[f"denoising k={k}, codes GMM m={m}" for k in (8, 12, 16) for m in (8, 16)],
}


def study_split(
    frame: pd.DataFrame,
    seed: int,
    models: list[StudyModel],
    pca_dims: tuple[int, ...],
    only: set[str] | None = None,
) -> dict[str, dict[str, Any]]:
    """Every density-study sampler on one split at T = 1: name -> AUC per sample seed, DCR
    ratio (sample seed 0) and detail (chosen bandwidth, mixture size)."""
    sp = Split(frame, seed, (1.0,))
    base = Baselines(sp.train)
    out: dict[str, dict[str, Any]] = {}

    def add(name: str, gen: Generator, detail: str = "") -> None:
        if only is not None and name not in only:
            return
        aucs = sp.measure(gen, (1.0,))[1.0]
        dcr = dcr_ratio(sp.train, sp.held, np.clip(gen(len(sp.held), 0, 1.0), sp.low, sp.high))
        out[name] = {"aucs": aucs, "dcr": dcr, "detail": detail}
        a = np.array(aucs)
        print(f"| {seed} | {name} | {detail} | {a.mean():.3f} ± {a.std():.3f} | {dcr:.2f} |")

    print("\n| split | sampler | detail | AUC, T = 1 | DCR ratio |")
    print("|---:|---|---|---:|---:|", flush=True)
    add("real training rows (floor)", base.real()[0])
    add("GMM on raw rows", *base.raw_mixture())
    h = loo_factor(base.z)
    raw_kde = kde_mixture(base.z, h)
    add(
        "KDE on raw rows, LOO",
        lambda n, s, t: raw_kde.sample(n, s, t) * base.std + base.mean,
        f"h={h:.2f}",
    )
    for k in pca_dims:
        centre = base.z.mean(0)
        axes = np.linalg.svd(base.z - centre, full_matrices=False)[2][:k].T
        scores = (base.z - centre) @ axes
        h = loo_factor(scores)
        mix = kde_mixture(scores, h)

        def pca_gen(
            n: int, s: int, t: float, m: Mixture = mix, a: np.ndarray = axes, c: np.ndarray = centre
        ) -> np.ndarray:
            return (c + m.sample(n, s, t) @ a.T) * base.std + base.mean

        add(f"PCA k={k} + KDE, LOO", pca_gen, f"h={h:.2f}")
    for cfg in models:
        started = time.perf_counter()
        model = aecli.train(
            sp.train_df, kind=cfg.kind, latent_dim=cfg.k, seed=0, threads=1, **cfg.options
        )
        fit = f"fit {time.perf_counter() - started:.1f} s"
        name = cfg.label()
        noise = validation_rms(model, sp.train_df)
        rcov = residual_cov(model, sp.train_df)
        if model.variational:
            enc = model.encode(sp.train_df, with_logvar=True)
            codes = enc[model.code_columns].to_numpy(np.float64)
            logvar = enc[[f"logvar{i + 1}" for i in range(cfg.k)]].to_numpy(np.float64)
            prior = aecli_sampler(model, "prior", sp.columns)
            add(f"{name}, prior", prior, fit)
            add(f"{name}, prior + val noise", with_noise(prior, noise))
            add(f"{name}, prior + residual-cov noise", with_correlated_noise(prior, rcov))
            agg = decoded(model, aggregate_posterior(codes, logvar), sp.columns)
            add(f"{name}, aggregate posterior", agg)
        else:
            codes = model.encode(sp.train_df).to_numpy(np.float64)
        gmm = aecli_sampler(model, "codes", sp.columns)
        comps = len(model.extras["density"]["weights"])
        add(f"{name}, codes GMM", gmm, f"{comps} comp.; {fit}")
        add(f"{name}, codes GMM + residual-cov noise", with_correlated_noise(gmm, rcov))
        for m in (4, 8, 16):
            add(f"{name}, codes GMM m={m}", decoded(model, fixed_gmm(codes, m), sp.columns))
        hl, hs = loo_factor(codes), scott_factor(*codes.shape)
        add(
            f"{name}, codes KDE LOO",
            decoded(model, kde_mixture(codes, hl), sp.columns),
            f"h={hl:.2f}",
        )
        kde = decoded(model, kde_mixture(codes, hl, corrected=True), sp.columns)
        add(f"{name}, codes KDE LOO corrected", kde, f"h={hl:.2f}")
        add(
            f"{name}, codes KDE LOO corrected + residual-cov noise",
            with_correlated_noise(kde, rcov),
        )
        scott = decoded(model, kde_mixture(codes, hs, corrected=True), sp.columns)
        add(f"{name}, codes KDE Scott corrected", scott, f"h={hs:.2f}")
        for h in (0.25, 0.5):
            add(f"{name}, codes KDE h={h:g}", decoded(model, kde_mixture(codes, h), sp.columns))
    return out


def density_study(
    frame: pd.DataFrame, splits: tuple[int, ...], out_path: Path, only: set[str] | None = None
) -> None:
    """The density study on each split, then each sampler's split-0 AUC beside its mean over
    the fresh splits (the others) x sample seeds. `only`: just these samplers (the candidates
    kept from the split-0 exploration, `STUDY_CANDIDATES`)."""
    results = {seed: study_split(frame, seed, STUDY_MODELS, (12,), only) for seed in splits}
    fresh = [s for s in splits if s != 0]
    print("\n| sampler | split 0 | fresh splits: mean | sd | per split | DCR ratio |")
    print("|---|---:|---:|---:|---|---:|")
    for name in results[splits[0]]:
        zero = np.mean(results[0][name]["aucs"]) if 0 in results else np.nan
        vals = [v for s in fresh for v in results[s][name]["aucs"]]
        per = " / ".join(f"{np.mean(results[s][name]['aucs']):.3f}" for s in fresh)
        dcr = np.mean([results[s][name]["dcr"] for s in fresh]) if fresh else np.nan
        mean, sd = (np.mean(vals), np.std(vals)) if vals else (np.nan, np.nan)
        print(f"| {name} | {zero:.3f} | {mean:.3f} | {sd:.3f} | {per} | {dcr:.2f} |")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps({str(s): r for s, r in results.items()}, indent=2) + "\n")


LIBRARY_MODELS = [
    StudyModel("vae", 12, {"beta": 0.25}),
    StudyModel("vae", 16, {"beta": 0.25}),
]


def kde_library_check(frame: pd.DataFrame, splits: tuple[int, ...], out_path: Path) -> None:
    """The kernel density as aecli itself would fit and sample it: `fit_code_density(codes,
    seed=0, method="kde")` on the codes of aecli's own training rows (what `api.train` passes),
    stored in `model.extras["density"]` and drawn by `model.sample(source="codes")`, beside the
    baselines and the same models' prior and BIC-mixture samplers."""
    from aecli.parts.density import fit_code_density

    results: dict[str, list[float]] = {}
    names: list[str] = []

    def add(seed: int, name: str, aucs: list[float]) -> None:
        if name not in names:
            names.append(name)
        results[name + f" | split {seed}"] = aucs
        a = np.array(aucs)
        print(f"| {seed} | {name} | {a.mean():.3f} ± {a.std():.3f} |", flush=True)

    print("\n| split | sampler | AUC, T = 1 |")
    print("|---:|---|---:|", flush=True)
    for seed in splits:
        sp = Split(frame, seed, (1.0,))
        base = Baselines(sp.train)
        add(seed, "real training rows (floor)", sp.measure(base.real()[0], (1.0,))[1.0])
        add(seed, "GMM on raw rows", sp.measure(base.raw_mixture()[0], (1.0,))[1.0])
        for cfg in LIBRARY_MODELS:
            model = aecli.train(
                sp.train_df, kind=cfg.kind, latent_dim=cfg.k, seed=0, threads=1, **cfg.options
            )
            rows, _ = split_rows(len(sp.train_df), 0.1, 0)
            codes = model.encode(sp.train_df.iloc[rows].reset_index(drop=True)).to_numpy()
            gmm = fit_code_density(codes, 0)
            same = all(np.allclose(gmm[k], model.extras["density"][k], atol=1e-4) for k in gmm)
            assert same, "these are not the codes aecli fits its density to"
            name = cfg.label()
            if model.variational:
                prior = aecli_sampler(model, "prior", sp.columns)
                add(seed, f"{name}, prior", sp.measure(prior, (1.0,))[1.0])
            gen = aecli_sampler(model, "codes", sp.columns)
            add(seed, f"{name}, codes GMM (BIC)", sp.measure(gen, (1.0,))[1.0])
            model.extras["density"] = fit_code_density(codes, 0, method="kde")
            add(seed, f"{name}, codes KDE (density.py)", sp.measure(gen, (1.0,))[1.0])
    fresh = [s for s in splits if s != 0]
    print("\n| sampler | split 0 | fresh splits: mean | sd |")
    print("|---|---:|---:|---:|")
    for name in names:
        vals = [v for s in fresh for v in results[f"{name} | split {s}"]]
        zero = np.mean(results[f"{name} | split 0"]) if 0 in splits else np.nan
        print(f"| {name} | {zero:.3f} | {np.mean(vals):.3f} | {np.std(vals):.3f} |")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(results, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# Product check (added 2026-11-25): the split-0 picks of the density study as aecli ships them,
# `aecli.train(..., code_density=..., components=...)` then `model.sample(..., source=...)`.


@dataclass
class ProductSetting:
    """One aecli setting as a user would run it: training options and the sample source."""

    kind: str
    k: int
    source: str
    options: dict[str, Any] = field(default_factory=dict)

    def label(self) -> str:
        opts = ", ".join(f"{a}={b}" for a, b in self.options.items())
        return f"{self.kind} k={self.k}" + (f" {opts}" if opts else "") + f", {self.source}"

    def train_args(self) -> list[str]:
        """The same setting as `aecli train` arguments."""
        args = ["--kind", self.kind, "--latent-dim", str(self.k), "--seed", "0", "--threads", "1"]
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        return args


PRODUCT_SETTINGS = [
    ProductSetting("undercomplete", 16, "codes", {"components": 16}),
    ProductSetting("undercomplete", 16, "codes", {"components": 8}),
    ProductSetting("undercomplete", 12, "codes", {"components": 8}),
    ProductSetting("vae", 16, "codes", {"beta": 0.25, "code_density": "kde"}),
    ProductSetting("vae", 12, "codes", {"beta": 0.25, "code_density": "kde"}),
    ProductSetting("vae", 12, "prior", {"beta": 0.25}),
]


def cli_matches_api(
    setting: ProductSetting, train_df: pd.DataFrame, api_rows: pd.DataFrame, seed: int
) -> float:
    """Train and sample the same setting with the `aecli` command on the same rows; the largest
    difference from the API's rows, in training-column SDs (0 up to CSV rounding)."""
    import shutil
    import subprocess
    import tempfile

    exe = shutil.which("aecli") or str(Path(sys.executable).with_name("aecli"))
    with tempfile.TemporaryDirectory() as tmp:
        data, ckpt, out = Path(tmp) / "train.csv", Path(tmp) / "m.safetensors", Path(tmp) / "s.csv"
        train_df.to_csv(data, index=False)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        train_cmd = [exe, "train", str(data), "-o", str(ckpt), "-q", *setting.train_args()]
        subprocess.run(train_cmd, check=True, env=env)
        sample_cmd = [exe, "sample", str(ckpt), "-n", str(len(api_rows)), "--seed", str(seed)]
        sample_cmd += ["--from", setting.source, "-o", str(out), "-q"]
        subprocess.run(sample_cmd, check=True, env=env)
        cli = pd.read_csv(out)[api_rows.columns].to_numpy(np.float64)
    diff = np.abs(cli - api_rows.to_numpy(np.float64)) / train_df.to_numpy().std(0)
    return float(diff.max())


def product_check(
    frame: pd.DataFrame, splits: tuple[int, ...], out_path: Path, cli_split: int | None
) -> None:
    """Each `PRODUCT_SETTINGS` sampler and the baselines on each split at T = 1, through the
    public API only: `aecli.train(training rows, ..., seed=0, threads=1)` then
    `model.sample(n_heldout, seed=s, source=...)`; the C2ST per sample seed and the DCR ratio
    (sample seed 0). On `cli_split`, every setting is also run through the `aecli` command and
    its rows compared with the API's."""
    results: dict[str, dict[str, Any]] = {}
    names: list[str] = []

    def add(seed: int, name: str, sp: Split, gen: Generator, detail: str = "") -> None:
        if name not in names:
            names.append(name)
        aucs = sp.measure(gen, (1.0,))[1.0]
        fake = np.clip(gen(len(sp.held), 0, 1.0), sp.low, sp.high)
        dcr = dcr_ratio(sp.train, sp.held, fake)
        results.setdefault(name, {})[str(seed)] = {"aucs": aucs, "dcr": dcr, "detail": detail}
        a = np.array(aucs)
        line = f"| {seed} | {name} | {detail} | {a.mean():.3f} ± {a.std():.3f} | {dcr:.2f} |"
        print(line, flush=True)

    print("\n| split | sampler | detail | AUC, T = 1 | DCR ratio |")
    print("|---:|---|---|---:|---:|", flush=True)
    cli: dict[str, float] = {}
    for seed in splits:
        sp = Split(frame, seed, (1.0,))
        base = Baselines(sp.train)
        add(seed, "real training rows (floor)", sp, base.real()[0])
        add(seed, "GMM on raw rows", sp, *base.raw_mixture())
        for setting in PRODUCT_SETTINGS:
            started = time.perf_counter()
            model = aecli.train(
                sp.train_df,
                kind=setting.kind,
                latent_dim=setting.k,
                seed=0,
                threads=1,
                **setting.options,
            )
            fit = time.perf_counter() - started
            comps = len(model.extras["density"]["weights"])
            detail = f"{comps} comp.; fit {fit:.1f} s"
            add(seed, setting.label(), sp, aecli_sampler(model, setting.source, sp.columns), detail)
            if seed == cli_split:
                api_rows = model.sample(len(sp.held), seed=0, source=setting.source)
                cli[setting.label()] = cli_matches_api(setting, sp.train_df, api_rows, 0)
                print(f"  CLI vs API, sample seed 0: max |diff| {cli[setting.label()]:.2g} SD")
    fresh = [s for s in splits if s != 0]
    print("\n| sampler | split 0 | fresh splits: mean ± sd | per split | DCR ratio (fresh) |")
    print("|---|---:|---:|---|---:|")
    summary: dict[str, dict[str, float]] = {}
    for name in names:
        per_split = results[name]
        zero = float(np.mean(per_split["0"]["aucs"])) if "0" in per_split else np.nan
        vals = [v for s in fresh for v in per_split[str(s)]["aucs"]]
        mean, sd = (float(np.mean(vals)), float(np.std(vals))) if vals else (np.nan, np.nan)
        dcr = float(np.mean([per_split[str(s)]["dcr"] for s in fresh])) if fresh else np.nan
        per = " / ".join(f"{np.mean(per_split[str(s)]['aucs']):.3f}" for s in fresh)
        summary[name] = {"split0": zero, "fresh_mean": mean, "fresh_sd": sd, "fresh_dcr": dcr}
        print(f"| {name} | {zero:.3f} | {mean:.3f} ± {sd:.3f} | {per} | {dcr:.2f} |")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "protocol": "aecli.train(train rows, seed=0, threads=1) then model.sample(171, seed=s, "
        "source=...); T = 1; C2ST per sample seed s = 0, 1, 2; DCR ratio at s = 0",
        "aecli_version": aecli.__version__,
        "splits": list(splits),
        "results": results,
        "summary": summary,
        "cli_vs_api_max_diff_sd": cli,
    }
    out_path.write_text(json.dumps(payload, indent=2) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="k = 8 only, VAE and undercomplete")
    parser.add_argument("--no-confirm", action="store_true", help="skip the fresh-split re-runs")
    parser.add_argument("--out", type=Path, default=OUT / "sampling.json")
    parser.add_argument(
        "--density-study",
        metavar="SPLITS",
        help="only the code-density study on these split seeds (e.g. 0,1,2,3); see its section",
    )
    parser.add_argument(
        "--all-samplers",
        action="store_true",
        help="with --density-study: every sampler, not only the split-0 candidates",
    )
    parser.add_argument(
        "--kde-check",
        metavar="SPLITS",
        help="only the check of aecli's own kernel code density on these split seeds",
    )
    parser.add_argument(
        "--product-check",
        metavar="SPLITS",
        help="only the shipped code densities (train --code-density/--components) through the "
        "public API on these split seeds",
    )
    parser.add_argument(
        "--cli-split",
        type=int,
        default=0,
        help="with --product-check: also run every setting through the aecli command on this "
        "split and compare its rows with the API's (-1: skip)",
    )
    parser.add_argument(
        "--product-out",
        type=Path,
        default=OUT / "sampling_product.json",
        help="with --product-check: where to write the JSON",
    )
    args = parser.parse_args()
    frame = pd.read_csv(DATA).astype(np.float64)
    if args.product_check:
        splits = tuple(int(s) for s in args.product_check.split(","))
        started = time.perf_counter()
        with threadpool_limits(1):
            cli_split = None if args.cli_split < 0 else args.cli_split
            product_check(frame, splits, args.product_out, cli_split)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
        return 0
    if args.kde_check:
        splits = tuple(int(s) for s in args.kde_check.split(","))
        started = time.perf_counter()
        with threadpool_limits(1):
            kde_library_check(frame, splits, OUT / "sampling_kde_check.json")
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
        return 0
    if args.density_study:
        splits = tuple(int(s) for s in args.density_study.split(","))
        started = time.perf_counter()
        with threadpool_limits(1):
            only = None if args.all_samplers else STUDY_CANDIDATES
            density_study(frame, splits, OUT / "sampling_density.json", only)
        print(f"\ntotal {time.perf_counter() - started:.0f} s")
        return 0
    if args.quick:
        dims: tuple[int, ...] = (8,)
        configs = [Config("vae", 8), Config("undercomplete", 8)]
    else:
        dims = (2, 4, 8, 12)
        configs = [Config(kind, k) for kind in ("vae", "undercomplete") for k in dims]
        configs += [Config(kind, k) for kind in ("sparse", "denoising") for k in (4, 8)]
        configs += [
            Config("vae", 8, {"beta": 0.5}),
            Config("vae", 8, {"steps": 12000}),
            Config("vae", 12, {"beta": 0.5}),
            Config("vae", 12, {"beta": 0.25}),
            Config("undercomplete", 8, {"steps": 12000}),
        ]
    print(
        f"# C2ST on {DATA.name}: {len(frame)} rows, {1 - HELD_OUT:.0%} train / {HELD_OUT:.0%} "
        f"held out, split seed 0, sample seeds {SAMPLE_SEEDS}, aecli {aecli.__version__}"
    )
    started = time.perf_counter()
    with threadpool_limits(1):
        rows = run_split(frame, 0, configs, dims, TEMPERATURES, diagnostics=True)
        best = min((r for r in rows if r.config is not None), key=lambda r: r.best()[0])
        auc, t = best.best()
        assert best.config is not None
        print(f"\nbest aecli sampler on split 0: {best.name}, k={best.k}, {best.detail}, T={t:g}")
        print(f"AUC {auc:.3f}: target < {TARGET} {'met' if auc < TARGET else 'NOT met'}")
        confirm: dict[str, list[float]] = {}
        temps = tuple(sorted({1.0, t}))
        if not args.no_confirm:
            for seed in (1, 2, 3):
                print(f"\n# fresh split {seed}: the best aecli setting and the baselines")
                sources = {best.config.kind: (best.source,)}
                fresh = run_split(
                    frame, seed, [best.config], (best.config.k,), temps, True, sources
                )
                for r in fresh:
                    for temp, values in r.aucs.items():
                        confirm.setdefault(f"{r.name} | {r.k} | {temp:g}", []).extend(values)
            print("\n| sampler | k | T | mean AUC, splits 1-3 x seeds 0-2 | sd |")
            print("|---|---:|---:|---:|---:|")
            for name, values in confirm.items():
                print(f"| {name} | {np.mean(values):.3f} | {np.std(values):.3f} |")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "rows": [
            {"name": r.name, "k": r.k, "detail": r.detail, "aucs": r.aucs, "fit_s": r.seconds}
            for r in rows
        ],
        "best": {"name": best.name, "k": best.k, "detail": best.detail, "T": t, "auc": auc},
        "confirm": confirm,
    }
    args.out.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
