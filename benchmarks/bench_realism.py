"""Issue 18's sampling checks, in one run: do `aecli sample`'s defaults give realistic rows?

Tables: breast cancer (sample_data, 30 numbers), penguins (sample_data, 3 categories, 5
numbers) and cars (UCI Auto MPG from the vega_datasets package, the bench extra: cylinders and
origin as categories, the name left out). Rows are split 70/30 by a seeded permutation (seed 0);
every sampler sees the training rows only and draws as many rows as are held out.

Samplers: the training rows themselves (drawn without replacement: the floor), a Gaussian
mixture on standardised one-hot rows (components by BIC, 1-10; categories: the largest slot;
numbers clipped to the training range), aecli `undercomplete` and `vae` trained at their defaults
(seed 0, one thread) and sampled with `Model.sample(n, seed=s)`, that is with the defaults chosen
at training time; with --peers, ctgan's TVAE and CTGAN (ctgan 0.12, `epochs` as given).

Measures, each the mean over sample seeds 0, 1, 2:
- AUC: a random forest (100 trees) telling generated from held-out rows, 5-fold ROC AUC on
  standardised numbers and one-hot categories (0.5: indistinguishable);
- spread: the median over numeric columns of the generated rows' SD over the training SD
  (the training rows give about 1);
- ends: the share of generated numeric values exactly at a column's training minimum or
  maximum, beside the held-out rows' share;
- rare: for each category level under 5% of the training rows, its share in the generated rows
  over its training share (mean over such levels; 1 = right; 0 = never generated);
- copy: the median distance from a generated row to its nearest training row over the same
  for the held-out rows (standardised numbers, one-hot categories; about 1: no closer to the
  training rows than new real rows are; well under 1: near-copies of training rows);
- quality: sdmetrics' QualityReport score against the held-out rows (0-1, higher = closer;
  needs sdmetrics, which is not a dependency: `pip install sdmetrics`).

Run from the repository root (about 5-10 minutes on two busy cores without --peers):
    .venv/bin/python benchmarks/bench_realism.py [--tables penguins,cars] [--peers --epochs 300]
        [--samplers aecli]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import RandomForestClassifier
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import StratifiedKFold, cross_val_score
from threadpoolctl import threadpool_limits

import aecli

DATA = Path(__file__).resolve().parents[1] / "sample_data"
TABLES = ("breast_cancer", "penguins", "cars")
SEEDS = (0, 1, 2)
HELD_OUT = 0.3
RARE = 0.05
Sampler = Callable[[int, int], pd.DataFrame]  # (n, seed) -> rows in the table's columns


def load(name: str) -> tuple[pd.DataFrame, list[str]]:
    """A table and its categorical columns (text)."""
    if name == "cars":
        from vega_datasets import data

        frame = data.cars().drop(columns="Name")
        frame["Year"] = frame["Year"].dt.year
        frame["Cylinders"] = frame["Cylinders"].astype(str)
        return frame, ["Cylinders", "Origin"]
    frame = pd.read_csv(DATA / f"{name}.csv")
    return frame, [c for c in frame.columns if frame[c].dtype == object]


class Encoding:
    """Standardised numbers and one-hot categories, fitted on the training rows."""

    def __init__(self, train: pd.DataFrame, categorical: list[str]) -> None:
        self.categorical = categorical
        self.numeric = [c for c in train.columns if c not in categorical]
        self.levels = {c: sorted(train[c].dropna().astype(str).unique()) for c in categorical}
        values = train[self.numeric].to_numpy(np.float64)
        self.mean, self.sd = np.nanmean(values, 0), np.nanstd(values, 0) + 1e-12
        self.low, self.high = np.nanmin(values, 0), np.nanmax(values, 0)

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        numbers = (frame[self.numeric].to_numpy(np.float64) - self.mean) / self.sd
        blocks = [np.nan_to_num(numbers)]
        for c, levels in self.levels.items():
            labels = frame[c].astype(str).to_numpy()
            blocks.append((labels[:, None] == np.array(levels)[None, :]).astype(np.float64))
        return np.hstack(blocks)

    def decode(self, z: np.ndarray) -> pd.DataFrame:
        k = len(self.numeric)
        numbers = np.clip(z[:, :k] * self.sd + self.mean, self.low, self.high)
        out = pd.DataFrame(numbers, columns=self.numeric)
        start = k
        for c, levels in self.levels.items():
            out[c] = np.array(levels)[z[:, start : start + len(levels)].argmax(1)]
            start += len(levels)
        return out


def c2st(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    x = np.vstack([real, fake])
    y = np.r_[np.zeros(len(real)), np.ones(len(fake))]
    forest = RandomForestClassifier(n_estimators=100, random_state=seed, n_jobs=1)
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    return float(cross_val_score(forest, x, y, cv=folds, scoring="roc_auc").mean())


def at_ends(frame: pd.DataFrame, enc: Encoding) -> float:
    values = frame[enc.numeric].to_numpy(np.float64)
    hits = np.isclose(values, enc.low) | np.isclose(values, enc.high)
    return float(hits[~np.isnan(values)].mean())


def measures(fake: pd.DataFrame, train: pd.DataFrame, held: pd.DataFrame, enc: Encoding, seed: int):
    auc = c2st(enc.encode(held), enc.encode(fake), seed)
    sd_train = train[enc.numeric].std().to_numpy()
    spread = float(np.median(fake[enc.numeric].astype(float).std().to_numpy() / sd_train))
    ratios = []
    for c in enc.categorical:
        share = train[c].dropna().astype(str).value_counts(normalize=True)
        drawn = fake[c].astype(str).value_counts(normalize=True)
        ratios += [drawn.get(level, 0.0) / p for level, p in share.items() if p < RARE]
    rare = float(np.mean(ratios)) if ratios else float("nan")
    copied = copy(fake, train, held, enc)
    return auc, spread, at_ends(fake, enc), rare, quality(held, fake, enc), copied


def copy(fake: pd.DataFrame, train: pd.DataFrame, held: pd.DataFrame, enc: Encoding) -> float:
    from sklearn.neighbors import NearestNeighbors

    nearest = NearestNeighbors(n_neighbors=1).fit(enc.encode(train.dropna()))
    to_train = np.median(nearest.kneighbors(enc.encode(fake))[0])
    return float(to_train / np.median(nearest.kneighbors(enc.encode(held))[0]))


def quality(held: pd.DataFrame, fake: pd.DataFrame, enc: Encoding) -> float:
    """sdmetrics' quality score (column shapes and pair trends, 0-1, higher = closer) of the
    generated rows against the held-out rows; NaN without sdmetrics."""
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        return float("nan")
    columns = {c: {"sdtype": "numerical"} for c in enc.numeric}
    columns |= {c: {"sdtype": "categorical"} for c in enc.categorical}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = QualityReport()
        report.generate(held, fake[list(held.columns)], {"columns": columns}, verbose=False)
    return float(report.get_score())


def aecli_sampler(train: pd.DataFrame, kind: str) -> tuple[Sampler, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = aecli.train(train, kind=kind, seed=0, threads=1)
    chosen = model.history.get("sampling", {})
    note = ", ".join(
        f"{k} {v}"
        for k, v in chosen.items()
        if k in ("source", "density", "temperature", "noise", "marginals")
    )
    columns = list(train.columns)
    return (lambda n, seed: model.sample(n, seed=seed)[columns]), note


def gmm_sampler(train: pd.DataFrame, enc: Encoding) -> tuple[Sampler, str]:
    x = enc.encode(train.dropna())
    fits = [GaussianMixture(m, random_state=0).fit(x) for m in range(1, 11)]
    best = min(fits, key=lambda g: g.bic(x))

    def sample(n: int, seed: int) -> pd.DataFrame:
        best.random_state = seed
        return enc.decode(best.sample(n)[0])

    return sample, f"{best.n_components} components"


def ctgan_sampler(train: pd.DataFrame, categorical: list[str], name: str, epochs: int):
    from ctgan import CTGAN, TVAE

    rows = train.dropna().reset_index(drop=True)
    model = (TVAE if name == "TVAE" else CTGAN)(epochs=epochs)
    torch.manual_seed(0)
    model.fit(rows, discrete_columns=categorical)

    def sample(n: int, seed: int) -> pd.DataFrame:
        torch.manual_seed(seed)
        np.random.seed(seed)
        return model.sample(n)[list(train.columns)]

    return sample, f"{epochs} epochs"


def run_table(
    name: str, peers: bool, epochs: int, only: list[str] | None = None
) -> list[list[str]]:
    frame, categorical = load(name)
    order = np.random.default_rng(0).permutation(len(frame))
    n_held = round(HELD_OUT * len(frame))
    held = frame.iloc[np.sort(order[:n_held])].reset_index(drop=True)
    train = frame.iloc[np.sort(order[n_held:])].reset_index(drop=True)
    enc = Encoding(train, categorical)
    held_scored = held.dropna().reset_index(drop=True)
    samplers: dict[str, Callable[[], tuple[Sampler, str]]] = {
        "training rows": lambda: (lambda n, s: train.sample(n, random_state=s), "floor"),
        "GMM (BIC)": lambda: gmm_sampler(train, enc),
        "aecli undercomplete": lambda: aecli_sampler(train, "undercomplete"),
        "aecli vae": lambda: aecli_sampler(train, "vae"),
    }
    if peers:
        for peer in ("TVAE", "CTGAN"):
            samplers[f"ctgan {peer}"] = lambda p=peer: ctgan_sampler(train, categorical, p, epochs)
    out = [["held-out rows", "", "", "", f"{at_ends(held, enc):.4f}", "", "", "", ""]]
    for label, make in samplers.items():
        if only is not None and not any(word in label for word in only):
            continue
        started = time.perf_counter()
        sampler, note = make()
        got = []
        for seed in SEEDS:
            fake = sampler(len(held_scored), seed).dropna().reset_index(drop=True)
            got.append(measures(fake, train, held_scored, enc, seed))
        auc, spread, ends, rare, score, copied = np.mean(got, axis=0)
        sd = np.std([g[0] for g in got])
        seconds = time.perf_counter() - started
        print(f"  [{name}] {label}: AUC {auc:.3f}, {seconds:.0f} s", file=sys.stderr, flush=True)
        rare_text = "" if np.isnan(rare) else f"{rare:.2f}"
        out.append(
            [
                label,
                note,
                f"{auc:.3f} ± {sd:.3f}",
                f"{spread:.2f}",
                f"{ends:.4f}",
                rare_text,
                f"{score:.3f}",
                f"{copied:.2f}",
                f"{seconds:.0f}",
            ]
        )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=",".join(TABLES))
    parser.add_argument("--peers", action="store_true", help="also ctgan's TVAE and CTGAN")
    parser.add_argument("--epochs", type=int, default=300, help="ctgan's training epochs")
    parser.add_argument(
        "--samplers",
        help="only the samplers whose label holds one of these comma-separated words "
        "(e.g. 'aecli' for the aecli kinds: the others' figures do not depend on aecli)",
    )
    args = parser.parse_args()
    print(
        f"# aecli sampling realism ({time.strftime('%Y-%m-%d')}; python "
        f"{platform.python_version()}, torch {torch.__version__}, 1 thread)\n"
    )
    header = ["sampler", "defaults chosen", "AUC", "spread", "ends", "rare", "quality", "copy", "s"]
    for name in args.tables.split(","):
        with threadpool_limits(1):
            only = None if args.samplers is None else args.samplers.split(",")
            rows = run_table(name, args.peers, args.epochs, only)
        print(f"## {name}\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
