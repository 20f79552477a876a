"""The default step budget against the old fixed 4000 steps, on tables of growing size (issue 18).

Tables: a synthetic, seeded non-linear table (a 3-dimensional latent t mapped through sines,
products and squares to 12 columns, plus 0.1 noise) at 1,000, 5,000 and 20,000 rows, and
digits. Each is trained with `aecli.train` at the defaults (seed 0, one thread), once with the
growing default budget and once with `steps=4000` (the old default); the table gives the
validation MSE (standardised), the steps and cycles run and the seconds.

Run from the repository root:  nice -n 10 .venv/bin/python benchmarks/bench_budget.py
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import aecli

DATA = Path(__file__).resolve().parents[1] / "sample_data"


def synthetic(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = rng.uniform(-2, 2, (n, 3))
    cols = [
        np.sin(t[:, 0]), np.cos(1.5 * t[:, 1]), t[:, 0] * t[:, 1], t[:, 2] ** 2,
        np.tanh(t[:, 0] + t[:, 2]), np.sin(t[:, 1] * t[:, 2]), t[:, 0], t[:, 1] ** 3 / 4,
        np.exp(t[:, 2] / 2), np.abs(t[:, 0] - t[:, 1]), np.sin(2 * t[:, 2]), t[:, 1] + t[:, 2],
    ]  # fmt: skip
    x = np.stack(cols, axis=1) + 0.1 * rng.standard_normal((n, len(cols)))
    return pd.DataFrame(x, columns=[f"c{i}" for i in range(len(cols))])


def main() -> int:
    warnings.simplefilter("ignore")
    tables = [(f"synthetic {n}", synthetic(n)) for n in (1000, 5000, 20000)]
    tables.append(("digits", pd.read_csv(DATA / "digits.csv")))
    print("| table | rows | budget | val MSE | ratio to 4000 | steps run | cycles | seconds |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, frame in tables:
        results = {}
        for label, steps in (("steps=4000 (old default)", 4000), ("default (grows)", None)):
            started = time.perf_counter()
            model = aecli.train(frame, steps=steps, seed=0, threads=1)
            seconds = time.perf_counter() - started
            results[label] = model.metrics["val_mse"]
            ratio = model.metrics["val_mse"] / results["steps=4000 (old default)"]
            h = model.history
            print(
                f"| {name} | {len(frame)} | {label} | {model.metrics['val_mse']:.4f} | "
                f"{ratio:.3f} | {h['steps_run']} | {h['cycles']} | {seconds:.0f} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
