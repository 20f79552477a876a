"""Imputation benchmark of issue 5: aecli's `denoise` against classical imputers, in one run.

Protocol (every seed 0 unless said otherwise):

- Tables: wine, breast cancer and digits (sample_data/*.csv, the same as scikit-learn's),
  diabetes (`sklearn.datasets.load_diabetes(as_frame=True, scaled=False)`: raw features, `sex`
  coded 1/2), and two mixed-type tables: penguins (sample_data/penguins.csv: species, island and
  sex are categories; its 19 empty cells stay missing and are never scored) and cars (UCI Auto
  MPG from the vega_datasets package, the bench extra: cylinders and origin are categories, the
  name is left out; its 14 empty cells stay missing). Numeric columns are passed
  as floats, so `denoise` does not round integer columns (digits' pixels; the effect of rounding
  is printed separately).
- Rows are split 75/25 by a seeded permutation; in the held-out rows exactly 20% of the present
  cells are hidden completely at random. Scenario "complete": the training rows as they are.
  Scenario "train-missing": 20% of the training rows' present cells are hidden too (seed 1).
- Every imputer is fitted on the training rows only and fills the hidden held-out cells.
- Scores: RMSE over the hidden numeric cells in standardised units (each column's error divided
  by its standard deviation over the training rows; 1 for a constant column), and accuracy over
  the hidden categorical cells (penguins).
- Classical imputers see numbers standardised by the training rows' observed cells (KNN is not
  scale-free, and standardising is how it is used) and categories one-hot (a missing category:
  its whole block missing; filled: the block's largest slot): mean/mode imputation, KNNImputer
  (k = 5, and k chosen by 3-fold cross-validation on the training rows with 20% of their cells
  hidden), IterativeImputer (BayesianRidge, max_iter=10, random_state=0).
- aecli: `aecli.train(training_rows, seed=0, threads=1, **options)`, then
  `model.denoise(held_out_rows_with_nans)`; the raw frames go in, aecli encodes them itself.

The aecli recipe (issue 18), the one README.md documents: `kind="denoising",
noise="mask:0.2", ensemble=5` (masking at the benchmark's missing rate; five networks, seeds 0-4,
whose reconstructions `denoise` averages; every other option at its default, so the code is
min(16, d - 1), the default for a masked table model), and `denoise` with its default choice of
reconstruction rounds. Beside it: the same with one network (issue 5's recipe, at today's
defaults) and the plain CLI default (`undercomplete`); the grid of other settings is printed
separately, with every fill mode (ensembles: `denoise`'s default only).

`--explore` adds prototypes of library changes, made by patching aecli's mask corruption and
objective inside this process only (nothing is written to the library; numeric tables only):
P1 masked cells marked as missing for the encoder (NaN, so the mask-indicator inputs light up as
for real missing cells) and a one-shot fill; P2 the loss scored on the masked cells only; P3
both; and ensembles of 5 seeds.

Run from the repository root (the default run: both scenarios, the grid; about 15-20 minutes on
two busy cores; --quick: one network and the recipe, default fill only):
    .venv/bin/python benchmarks/bench_impute.py [--quick] [--full] [--tables wine,penguins]
    .venv/bin/python benchmarks/bench_impute.py --explore --skip-grid --scenarios complete
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_diabetes
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer, SimpleImputer
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

import aecli
from aecli.parts.corruption import Corruption
from aecli.parts.objective import Objective, Terms

DATA = Path(__file__).resolve().parents[1] / "sample_data"
TABLES = ("wine", "breast_cancer", "diabetes", "digits", "penguins", "cars")
SCENARIOS = ("complete", "train-missing")
SEED = 0
TEST_FRACTION = 0.25
HIDDEN = 0.2  # share of held-out cells hidden (and of training cells, in "train-missing")
KNN_GRID = (1, 2, 3, 5, 8, 12, 20)
MODES: tuple[int | str, ...] = ("auto", 1, 3, 10, "marked")  # how `denoise` fills; see fill()


# --- data -----------------------------------------------------------------------------------

CATEGORICAL = {  # text columns, modelled as categories
    "penguins": ("species", "island", "sex"),
    "cars": ("Cylinders", "Origin"),
}


def load_table(name: str) -> pd.DataFrame:
    """A benchmark table: numbers as floats, categories as text (no target column)."""
    if name == "diabetes":
        return load_diabetes(as_frame=True, scaled=False).data.astype(np.float64)
    if name == "cars":
        return load_cars()
    frame = pd.read_csv(DATA / f"{name}.csv")
    categorical = CATEGORICAL.get(name, ())
    return frame.astype({c: np.float64 for c in frame.columns if c not in categorical})


def load_cars() -> pd.DataFrame:
    """UCI Auto MPG (406 cars, CC BY 4.0) as the vega_datasets package ships it (offline, the
    bench extra): the model year as a number, the cylinder count and the origin as categories,
    the car's name (an identifier) left out; its 14 empty cells stay missing."""
    from vega_datasets import data

    frame = data.cars().drop(columns="Name")
    frame["Year"] = frame["Year"].dt.year.astype(np.float64)
    frame["Cylinders"] = frame["Cylinders"].astype(str)
    numeric = [c for c in frame.columns if c not in CATEGORICAL["cars"]]
    return frame.astype({c: np.float64 for c in numeric})


def hide_cells(present: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Exactly round(fraction * present cells) of the present cells, completely at random."""
    where = np.flatnonzero(present)
    chosen = np.random.default_rng(seed).permutation(len(where))[: round(fraction * len(where))]
    flat = np.zeros(present.size, dtype=bool)
    flat[where[chosen]] = True
    return flat.reshape(present.shape)


@dataclass
class Task:
    """One table in one scenario: training rows, held-out truth, hidden cells, scoring units."""

    table: str
    scenario: str
    train: pd.DataFrame  # NaN where missing (penguins' own gaps; 20% more in train-missing)
    truth: pd.DataFrame  # the held-out rows as they are (complete, but for penguins' gaps)
    hide: np.ndarray  # the held-out cells hidden from every imputer (all present in truth)
    scale: np.ndarray  # numeric columns' standard deviation over the training rows (1: constant)

    @property
    def categorical(self) -> list[str]:
        return list(CATEGORICAL.get(self.table, ()))

    @property
    def numeric(self) -> list[str]:
        return [c for c in self.truth.columns if c not in self.categorical]

    @property
    def masked(self) -> pd.DataFrame:
        """The held-out rows as the imputers see them."""
        return self.truth.mask(self.hide)

    def score(self, filled: pd.DataFrame) -> tuple[float, float]:
        """RMSE over the hidden numeric cells in standardised units, and the accuracy over the
        hidden categorical cells (NaN without any)."""
        columns = list(self.truth.columns)
        num = [columns.index(c) for c in self.numeric]
        error = filled[self.numeric].to_numpy(np.float64) - self.truth[self.numeric].to_numpy()
        rmse = float(np.sqrt(np.mean((error / self.scale)[self.hide[:, num]] ** 2)))
        if not self.categorical:
            return rmse, float("nan")
        cat = [columns.index(c) for c in self.categorical]
        same = filled[self.categorical].astype(str) == self.truth[self.categorical].astype(str)
        return rmse, float(same.to_numpy()[self.hide[:, cat]].mean())


def make_task(table: str, scenario: str) -> Task:
    """Split, hide and measure one table, deterministically."""
    frame = load_table(table)
    order = np.random.default_rng(SEED).permutation(len(frame))
    n_test = round(TEST_FRACTION * len(frame))
    test_rows, train_rows = np.sort(order[:n_test]), np.sort(order[n_test:])
    train = frame.iloc[train_rows].reset_index(drop=True)
    truth = frame.iloc[test_rows].reset_index(drop=True)
    numeric = [c for c in frame.columns if c not in CATEGORICAL.get(table, ())]
    values = train[numeric].to_numpy(np.float64)
    center, scale = np.nanmean(values, axis=0), np.nanstd(values, axis=0)
    scale = np.where(scale > 1e-12 * np.maximum(1.0, np.abs(center)), scale, 1.0)
    if scenario == "train-missing":
        train = train.mask(hide_cells(train.notna().to_numpy(), HIDDEN, SEED + 1))
    hide = hide_cells(truth.notna().to_numpy(), HIDDEN, SEED)
    return Task(table, scenario, train, truth, hide, scale)


# --- classical imputers ---------------------------------------------------------------------


class Encoding:
    """The classical imputers' view of a table: numbers standardised by the observed training
    cells, categories one-hot (a missing category: its whole block NaN); and the way back
    (a category: its largest imputed slot)."""

    def __init__(self, train: pd.DataFrame, categorical: list[str]) -> None:
        self.columns = list(train.columns)
        self.categories = {c: sorted(train[c].dropna().astype(str).unique()) for c in categorical}
        self.numeric = [c for c in self.columns if c not in self.categories]
        values = train[self.numeric].to_numpy(np.float64)
        self.mean = np.nanmean(values, axis=0)
        std = np.nanstd(values, axis=0)
        self.std = np.where(std > 1e-12, std, 1.0)
        self.widths = [len(self.categories.get(c, [0])) for c in self.columns]

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        blocks = []
        for column in self.columns:
            series = frame[column]
            if column in self.categories:
                labels = series.astype(str).to_numpy()
                block = (labels[:, None] == np.array(self.categories[column])[None, :]) * 1.0
                block[series.isna().to_numpy()] = np.nan
                blocks.append(block)
            else:
                j = self.numeric.index(column)
                blocks.append(((series.to_numpy(np.float64) - self.mean[j]) / self.std[j])[:, None])
        return np.concatenate(blocks, axis=1)

    def decode(self, z: np.ndarray) -> pd.DataFrame:
        out: dict[str, Any] = {}
        start = 0
        for column, width in zip(self.columns, self.widths, strict=True):
            block = z[:, start : start + width]
            if column in self.categories:
                out[column] = np.array(self.categories[column])[block.argmax(axis=1)]
            else:
                j = self.numeric.index(column)
                out[column] = block[:, 0] * self.std[j] + self.mean[j]
            start += width
        return pd.DataFrame(out)

    def expand(self, cells: np.ndarray) -> np.ndarray:
        """A per-column cell mask as a per-slot mask."""
        return np.repeat(cells, self.widths, axis=1)


def sklearn_fill(task: Task, make: Callable[[], Any]) -> pd.DataFrame:
    """Fit an imputer on the encoded training rows and fill the held-out rows' missing cells."""
    encoding = Encoding(task.train, task.categorical)
    imputer = make().fit(encoding.encode(task.train))
    masked = task.masked
    filled = encoding.decode(imputer.transform(encoding.encode(masked)))
    return masked.mask(masked.isna(), filled)


def knn_cv_k(task: Task) -> int:
    """k for KNNImputer by 3-fold CV on the training rows, 20% of their present cells hidden
    (squared error over the hidden cells' encoded slots)."""
    encoding = Encoding(task.train, task.categorical)
    train = encoding.encode(task.train)
    present = task.train.notna().to_numpy()
    errors = np.zeros(len(KNN_GRID))
    for fold, (fit_rows, val_rows) in enumerate(
        KFold(3, shuffle=True, random_state=SEED).split(train)
    ):
        val = train[val_rows]
        probe = encoding.expand(hide_cells(present[val_rows], HIDDEN, SEED + 10 + fold))
        shown = np.where(probe, np.nan, val)
        for i, k in enumerate(KNN_GRID):
            filled = KNNImputer(n_neighbors=k).fit(train[fit_rows]).transform(shown)
            errors[i] += np.sum((filled[probe] - val[probe]) ** 2)
    return KNN_GRID[int(np.argmin(errors))]


def classical(task: Task) -> dict[str, tuple[float, float, float, str]]:
    """RMSE, accuracy, seconds and a note for each classical imputer on one task."""
    out: dict[str, tuple[float, float, float, str]] = {}
    started = time.perf_counter()
    k = knn_cv_k(task)
    cv_seconds = time.perf_counter() - started
    imputers: dict[str, Callable[[], Any]] = {
        "mean/mode": SimpleImputer,  # a category's block mean: its frequencies, so the mode
        "KNN k=5": KNNImputer,
        "KNN k=CV": lambda: KNNImputer(n_neighbors=k),
        "Iterative": lambda: IterativeImputer(max_iter=10, random_state=SEED),
    }
    for label, make in imputers.items():
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IterativeImputer's convergence warnings
            filled = sklearn_fill(task, make)
        seconds = time.perf_counter() - started + (cv_seconds if label == "KNN k=CV" else 0.0)
        out[label] = (*task.score(filled), seconds, f"k={k}" if label == "KNN k=CV" else "")
    if not task.categorical:
        raw = KNNImputer().fit(task.train.to_numpy()).transform(task.masked.to_numpy())
        out["KNN k=5 raw units"] = (
            *task.score(pd.DataFrame(raw, columns=task.truth.columns)),
            0,
            "",
        )
    return out


# --- aecli ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class AeConfig:
    """One aecli setting: training options, with the code size optionally a function of d."""

    label: str
    options: tuple[tuple[str, Any], ...] = ()
    latent: Callable[[int], int] | None = None
    patch: str | None = None  # a prototype library change (see `prototype`), --explore only
    seeds: int = 1  # >1: the fills of models trained with seeds 0..seeds-1 are averaged
    mode: str = "auto"  # the fill mode (see `fill`) its row in the settings table uses

    @property
    def ensemble_only(self) -> bool:
        """An `--ensemble` model: measured with `denoise`'s defaults only (every mode costs)."""
        return dict(self.options).get("ensemble", 1) > 1

    def train_options(self, d: int, seed: int) -> dict[str, Any]:
        opts = dict(self.options)
        if self.latent is not None:
            opts["latent_dim"] = self.latent(d)
        return {**opts, "seed": seed, "threads": 1}


MASK = (("kind", "denoising"), ("noise", "mask:0.2"))
RECIPE = AeConfig("denoising mask:0.2 ensemble 5 (recipe)", (*MASK, ("ensemble", 5)))
SINGLE = AeConfig("denoising mask:0.2 (one network)", MASK)
DEFAULT = AeConfig("undercomplete (CLI default)", (("kind", "undercomplete"),))
WIDE_CODE = AeConfig("mask:0.2 latent min(16, d-1)", MASK, lambda d: min(16, d - 1))
NARROW_CODE = AeConfig("mask:0.2 latent min(8, d-1)", MASK, lambda d: min(8, d - 1))
WIDE = (*MASK, ("hidden", (256, 128)))
GRID = [  # the default run's grid (scenario "complete")
    DEFAULT,
    RECIPE,
    SINGLE,
    NARROW_CODE,
    AeConfig("denoising mask:0.3", (("kind", "denoising"), ("noise", "mask:0.3"))),
    AeConfig("denoising gaussian:0.5", (("kind", "denoising"),)),
    WIDE_CODE,
    AeConfig("mask:0.2 hidden 256,128", WIDE),
    AeConfig("mask:0.2 latent min(16, d-1), hidden 256,128", WIDE, lambda d: min(16, d - 1)),
]
FULL_GRID = [  # --full adds these
    AeConfig("denoising mask:0.1", (("kind", "denoising"), ("noise", "mask:0.1"))),
    AeConfig("denoising mask:0.5", (("kind", "denoising"), ("noise", "mask:0.5"))),
    AeConfig("vae", (("kind", "vae"),)),
    AeConfig("mask:0.2 latent 4", MASK, lambda d: min(4, d - 1)),
    AeConfig("mask:0.2 latent min(32, d-1)", MASK, lambda d: min(32, d - 1)),
    AeConfig("mask:0.2 hidden 64", (*MASK, ("hidden", (64,)))),
    AeConfig("mask:0.2 steps 12000", (*MASK, ("steps", 12000))),
]
QUICK_GRID = [SINGLE, RECIPE]
TRAIN_MISSING_GRID = [DEFAULT, SINGLE, RECIPE]
P3 = "marked+masked-loss"
EXPLORE = [  # --explore adds these: prototypes of library changes, and seed ensembles
    AeConfig("P1 mask marked missing", MASK, patch="marked", mode="marked"),
    AeConfig("P2 loss on masked cells only", MASK, patch="masked-loss"),
    AeConfig("P3 marked + masked-only loss", MASK, patch=P3, mode="marked"),
    AeConfig("P3 + latent min(16, d-1)", MASK, lambda d: min(16, d - 1), P3, mode="marked"),
    AeConfig("recipe, 5 seeds averaged", MASK, seeds=5),
    AeConfig("mask:0.2 latent min(16, d-1), 5 seeds averaged", MASK, WIDE_CODE.latent, seeds=5),
    AeConfig("P3, 5 seeds averaged", MASK, patch=P3, seeds=5, mode="marked"),
]


@contextlib.contextmanager
def prototype(patch: str | None) -> Iterator[None]:
    """Patch aecli's mask corruption and objective in this process only, for one training run.

    "marked": a masked cell becomes NaN, so the encoder sees it exactly like a missing cell
    (input 0 and its missing indicator set). "masked-loss": the squared error is averaged over
    the masked cells only. Deterministic kinds without penalties only.
    """
    if patch is None:
        yield
        return
    marked, masked_loss = "marked" in patch, "masked-loss" in patch
    original_corrupt, original_objective = Corruption.__call__, Objective.__call__

    def corrupt(self: Corruption, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        hit = torch.rand(x.shape, generator=gen) < self.level_low
        return x.masked_fill(hit, float("nan"))  # the objective decides how the encoder sees it

    def objective(self: Objective, net: Any, batch: torch.Tensor, gen: torch.Generator) -> Terms:
        assert not net.arch.variational and not net.arch.n_condition and self.sparsity is None
        assert self.likelihood.all_gaussian  # numeric tables: the loss is the squared error
        present = ~torch.isnan(batch)
        x_in = self.corrupt(batch, gen)
        hit = torch.isnan(x_in) & present
        if not marked:
            x_in = torch.where(hit, torch.zeros_like(x_in), x_in)
        h = net.encode(x_in)
        cells = (net.decode(h) - batch.nan_to_num(0.0)).pow(2)
        weight = (hit if masked_loss else present).to(cells.dtype)
        recon = (cells * weight).sum() / weight.sum().clamp(min=1)
        return Terms(recon, recon, h)

    Corruption.__call__ = corrupt  # type: ignore[method-assign]
    Objective.__call__ = objective  # type: ignore[method-assign]
    try:
        yield
    finally:
        Corruption.__call__ = original_corrupt  # type: ignore[method-assign]
        Objective.__call__ = original_objective  # type: ignore[method-assign]


def fill(model: aecli.Model, masked: pd.DataFrame, mode: int | str) -> pd.DataFrame:
    """The held-out rows with their missing cells filled by the model.

    "auto": `model.denoise` as the CLI runs it (rounds chosen on the data); an int: `denoise`
    with that many rounds; "marked": one reconstruction with the missing cells given to the
    encoder as missing (NaN: input 0 plus the mask indicator), via the public
    `reconstruct_array`, which is what a mask-aware model saw for missing cells in training.
    """
    columns = list(masked.columns)
    if mode == "marked":
        schema = model.schema
        recon = schema.from_array(model.reconstruct_array(schema.to_array(masked)))
        return masked.mask(masked.isna(), recon[columns])
    iterations = None if mode == "auto" else int(mode)
    repaired, _ = model.denoise(masked, iterations=iterations)
    return repaired[columns]


def combine(fills: list[pd.DataFrame], categorical: list[str]) -> pd.DataFrame:
    """Several models' fills as one: numbers averaged, categories by majority vote."""
    if len(fills) == 1:
        return fills[0]
    out = fills[0].copy()
    numeric = [c for c in out.columns if c not in categorical]
    out[numeric] = np.mean([f[numeric].to_numpy(np.float64) for f in fills], axis=0)
    for column in categorical:
        out[column] = pd.concat([f[column] for f in fills], axis=1).mode(axis=1)[0]
    return out


def run_aecli(task: Task, config: AeConfig) -> tuple[dict[str, float], float, pd.DataFrame | None]:
    """RMSE (and accuracy, "MODE acc") for each fill mode, the training seconds (all seeds) and
    the default fill. Prototypes run on numeric tables only (empty scores otherwise)."""
    if config.patch is not None and task.categorical:
        return {}, 0.0, None
    fills: dict[str, list[pd.DataFrame]] = {str(m): [] for m in MODES}
    if config.ensemble_only:  # an ensemble's rows report its `denoise` default only
        fills = {"auto": []}
    seconds = 0.0
    d = task.train.shape[1]
    for seed in range(config.seeds):
        started = time.perf_counter()
        with prototype(config.patch), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = aecli.train(task.train, **config.train_options(d, seed))
        seconds += time.perf_counter() - started
        for mode in fills:
            fills[mode].append(fill(model, task.masked, int(mode) if mode.isdigit() else mode))
    scores: dict[str, float] = {}
    for mode, frames in fills.items():
        scores[mode], scores[f"{mode} acc"] = task.score(combine(frames, task.categorical))
    singles = [task.score(f)[0] for f in fills[config.mode]]  # each seed's model on its own
    scores["single mean"], scores["single sd"] = float(np.mean(singles)), float(np.std(singles))
    return scores, seconds, combine(fills["auto"], task.categorical)


# --- reporting ------------------------------------------------------------------------------

Scores = dict[str, dict[str, dict[str, float]]]  # setting label -> table -> score name -> value
NUMERIC_TABLES = [t for t in TABLES if t not in CATEGORICAL]


def markdown(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table (first column left-aligned, the rest right-aligned)."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        return "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in pairs) + " |"

    rule = ["-" * w if i == 0 else "-" * (w - 1) + ":" for i, w in enumerate(widths)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])


def headline_table(
    tables: list[str], classical_out: dict[str, dict[str, tuple]], ae: Scores
) -> str:
    """Rows: tables (RMSE; penguins' accuracy on its own row), mean RMSE, mean rank; columns:
    the classical imputers, the CLI default and the recipe. Best per row in bold."""
    methods = ["mean/mode", "KNN k=5", "KNN k=CV", "Iterative"]
    aecli_methods = (
        ("aecli CLI default", DEFAULT),
        ("aecli one network", SINGLE),
        ("aecli recipe", RECIPE),
    )
    methods += [m for m, c in aecli_methods if c.label in ae]
    rows: dict[str, list[float]] = {}
    for table in tables:
        values = {m: classical_out[table][m][:2] for m in methods if m in classical_out[table]}
        for method, config in aecli_methods:
            if config.label in ae:
                values[method] = (
                    ae[config.label][table]["auto"],
                    ae[config.label][table]["auto acc"],
                )
        rows[f"{table} RMSE"] = [values[m][0] for m in methods]
        if table in CATEGORICAL:
            rows[f"{table} accuracy"] = [values[m][1] for m in methods]
    out, ranks = [], []
    for name, values in rows.items():
        accuracy = name.endswith("accuracy")
        signed = -np.array(values) if accuracy else np.array(values)
        ranks.append(signed.argsort().argsort() + 1)
        best = signed.min()
        out.append(
            [
                name,
                *(
                    f"**{v:.3f}**" if s == best else f"{v:.3f}"
                    for v, s in zip(values, signed, strict=True)
                ),
            ]
        )
    rmse_rows = [v for n, v in rows.items() if n.endswith("RMSE")]
    out.append(["mean RMSE", *(f"{v:.3f}" for v in np.mean(rmse_rows, axis=0))])
    numeric_rows = [v for n, v in rows.items() if n.split()[0] in NUMERIC_TABLES]
    if len(numeric_rows) < len(rmse_rows):
        out.append(
            ["mean RMSE, numeric tables", *(f"{v:.3f}" for v in np.mean(numeric_rows, axis=0))]
        )
    out.append(["mean rank (all rows above)", *(f"{v:.2f}" for v in np.mean(ranks, axis=0))])
    return markdown(["table", *methods], out)


def settings_table(
    tables: list[str], configs: list[AeConfig], ae: Scores, seconds: dict[str, dict[str, float]]
) -> str:
    """Rows: aecli settings, each with its own fill mode; columns: RMSE per table (and
    penguins' accuracy), means, training time. Prototypes: numeric tables only (n/a)."""
    numeric = [t for t in tables if t in NUMERIC_TABLES]
    mixed = [t for t in tables if t in CATEGORICAL]
    rows = []
    for config in configs:
        got = ae[config.label]
        cells = [f"{got[t][config.mode]:.3f}" if got[t] else "n/a" for t in tables]
        cells += [f"{got[t][config.mode + ' acc']:.3f}" if got[t] else "n/a" for t in mixed]
        complete = all(got[t] for t in tables)
        cells.append(f"{np.mean([got[t][config.mode] for t in tables]):.3f}" if complete else "n/a")
        cells.append(f"{np.mean([got[t][config.mode] for t in numeric]):.3f}")
        total = sum(seconds[config.label].values())
        rows.append([config.label, config.mode, *cells, f"{total:.0f}"])
    header = ["setting", "fill", *tables, *(f"{t} acc" for t in mixed), "mean", "mean numeric"]
    table = markdown([*header, "train s"], rows)
    for config in configs:
        if config.seeds > 1:
            spread = {t: ae[config.label][t] for t in numeric}
            text = ", ".join(
                f"{t} {v['single mean']:.3f} ± {v['single sd']:.3f}" for t, v in spread.items()
            )
            mean = np.mean([v["single mean"] for v in spread.values()])
            table += f"\n\n{config.label}: the single models, mean ± sd over seeds: {text}"
            table += f" (mean {mean:.3f})."
    return table


def modes_table(tables: list[str], configs: list[AeConfig], ae: Scores) -> str:
    """Rows: aecli settings; columns: each fill mode's mean RMSE over the numeric tables."""
    numeric = [t for t in tables if t in NUMERIC_TABLES]
    rows = []
    for config in configs:
        if config.ensemble_only:
            continue
        means = [np.mean([ae[config.label][t][str(m)] for t in numeric]) for m in MODES]
        rows.append([config.label, *(f"{v:.3f}" for v in means)])
    return markdown(["setting", *(f"{m}" for m in MODES)], rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="no grid: CLI default and recipe")
    parser.add_argument("--full", action="store_true", help="a larger grid of aecli settings")
    parser.add_argument("--explore", action="store_true", help="also the prototype changes")
    parser.add_argument("--only", help="run only the aecli settings whose label contains this")
    parser.add_argument("--skip-grid", action="store_true", help="with --explore: those only")
    parser.add_argument("--tables", default=",".join(TABLES), help="comma-separated tables")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="complete,train-missing")
    parser.add_argument("--json", type=Path, help="also write every number to this file")
    args = parser.parse_args(argv)
    tables = [t for t in args.tables.split(",") if t]
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = [t for t in tables if t not in TABLES] + [s for s in scenarios if s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown table or scenario: {', '.join(unknown)}")
    started = time.perf_counter()
    print(
        f"# aecli imputation benchmark ({time.strftime('%Y-%m-%d')}; python "
        f"{platform.python_version()}, torch {torch.__version__}, {platform.machine()}, "
        "1 thread)\n",
        flush=True,
    )
    record: dict[str, Any] = {}
    for scenario in scenarios:
        if args.quick:
            configs = list(QUICK_GRID)
        elif scenario == "complete":
            configs = GRID + (FULL_GRID if args.full else [])
        else:
            configs = list(TRAIN_MISSING_GRID)
        configs = [] if args.skip_grid else configs
        configs += EXPLORE if args.explore else []
        if args.only:
            configs = [c for c in configs if args.only in c.label]
        ae: Scores = {c.label: {} for c in configs}
        seconds: dict[str, dict[str, float]] = {c.label: {} for c in configs}
        classical_out: dict[str, dict[str, tuple]] = {}
        notes: list[str] = []
        for table in tables:
            task = make_task(table, scenario)
            with threadpool_limits(1):
                classical_out[table] = classical(task)
            for config in configs:
                scores, secs, auto_fill = run_aecli(task, config)
                ae[config.label][table], seconds[config.label][table] = scores, secs
                if config is RECIPE and table == "digits" and auto_fill is not None:
                    rounded = task.score(auto_fill.round())[0]
                    notes.append(
                        f"Digits with integer columns (denoise rounds them): recipe {rounded:.3f} "
                        f"instead of {scores['auto']:.3f}."
                    )
                shown = f"{scores[config.mode]:.3f}" if scores else "n/a"
                print(
                    f"  [{scenario} {table}] {config.label}: {config.mode} {shown}, {secs:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
        print(f"## Scenario {scenario}: hidden held-out cells (RMSE in standardised units)\n")
        print(headline_table(tables, classical_out, ae))
        chosen = ", ".join(f"{t} {classical_out[t]['KNN k=CV'][3]}" for t in tables)
        notes.insert(0, f"KNN k=CV chose: {chosen}.")
        raw = [
            f"{t} {v['KNN k=5 raw units'][0]:.3f}"
            for t, v in classical_out.items()
            if t in NUMERIC_TABLES
        ]
        if raw:
            notes.insert(1, f"KNN k=5 on raw (unstandardised) columns: {', '.join(raw)}.")
        print("\n" + "\n".join(notes))
        print(f"\n### aecli settings, {scenario}\n")
        print(settings_table(tables, configs, ae, seconds))
        print(f"\n### Fill modes, {scenario}: mean RMSE over the numeric tables\n")
        print(modes_table(tables, configs, ae))
        print(flush=True)
        record[scenario] = {"classical": classical_out, "aecli": ae, "train_seconds": seconds}
    print(f"Total time: {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(record, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
