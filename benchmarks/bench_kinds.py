"""Every kind on digits and breast cancer, beside the `undercomplete` baseline, in one table.

Each model trains with the kind's defaults (hidden 128,64; 4000 optimiser steps budget with early
stopping; seed 0; one torch thread) and the same 8-unit code, and is measured on the same held-out
10% of rows (standardised units). Columns where one value fills 95% of the rows are dropped
(digits' blank edge pixels): standardised, their rare non-zero cells lie up to 97 standard
deviations out, and one such cell would decide every error below.

- val MSE: reconstruction error; x base: as a ratio to the undercomplete model's.
- zeros: share of code values below 1% of the largest magnitude their unit takes on these rows.
- mean h: mean code value (for sigmoid codes, the mean activation that KL sparsity targets).
- |J|^2: mean over rows of ||d f(x) / d x||_F^2, the exact encoder Jacobian (what the contractive
  penalty measures); |J|^2/var: the same divided by the codes' total variance, so that merely
  shrinking the code (and enlarging the decoder) does not count as contraction.
- gauss / mask / s&p: error against the clean rows when fed the rows corrupted by gaussian:0.5,
  mask:0.2 and saltpepper:0.1 (one fixed draw, salt-and-pepper extremes from the training rows).
- time x: CPU time of the whole `aecli.train` call (one thread, so about its wall time on an idle
  machine) as a ratio to undercomplete's; seconds in brackets. CPU time rather than wall time,
  because the machine is shared; still approximate.

Run from the repository root:  .venv/bin/python benchmarks/bench_kinds.py [--steps N] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from threadpoolctl import threadpool_limits

import aecli
from aecli.api import split_rows
from aecli.parts.corruption import Corruption
from aecli.parts.penalties import encoder_jacobian

DATA = Path(__file__).resolve().parents[1] / "sample_data"
DATASETS = ("digits", "breast_cancer")
NOISES = {"gauss": "gaussian:0.5", "mask": "mask:0.2", "s&p": "saltpepper:0.1"}
LATENT = 8
SEED = 0


@dataclass(frozen=True)
class Row:
    """One line of the table: a kind with optional extra options."""

    label: str
    kind: str
    options: tuple[tuple[str, Any], ...] = ()


ROWS = [
    Row("undercomplete (baseline)", "undercomplete"),
    Row("linear", "linear"),
    Row("sparse (l1)", "sparse"),
    Row("sparse --sparsity kl", "sparse", (("sparsity", "kl"),)),
    Row("denoising (gaussian:0.5)", "denoising"),
    Row("denoising --noise mask:0.2", "denoising", (("noise", "mask:0.2"),)),
    Row("denoising --noise saltpepper:0.1", "denoising", (("noise", "saltpepper:0.1"),)),
    Row("contractive", "contractive"),
    Row("denoising + l1 (composed)", "denoising", (("sparsity", "l1"),)),
    Row("vae", "vae"),
]


def split(model: aecli.Model, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's training and held-out rows, in its own model space (standardised)."""
    x = model.schema.to_array(pd.read_csv(DATA / f"{name}.csv"))
    train_rows, val_rows = split_rows(len(x), model.options.val_fraction, SEED)
    return torch.from_numpy(x[train_rows]), torch.from_numpy(x[val_rows])


def near_constant(name: str) -> tuple[str, ...]:
    """Columns in which one value fills at least 95% of the rows."""
    frame = pd.read_csv(DATA / f"{name}.csv")
    share = frame.apply(lambda column: column.value_counts(normalize=True).iloc[0])
    return tuple(share[share >= 0.95].index)


def fit(name: str, kind: str, options: dict[str, Any]) -> tuple[aecli.Model, float]:
    """Train one model; return it and the CPU time of the whole `aecli.train` call."""
    started = time.process_time()
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        model = aecli.train(
            DATA / f"{name}.csv",
            kind=kind,
            latent_dim=LATENT,
            seed=SEED,
            threads=1,
            drop=near_constant(name),
            **options,
        )
    return model, time.process_time() - started


def measure(model: aecli.Model, name: str) -> dict[str, float]:
    """The table's numbers for one trained model on the held-out rows."""
    fit_rows, val = split(model, name)
    if any(c.likelihood != "gaussian" for c in model.schema.columns):
        raise RuntimeError(f"{model.kind}: a column is not standardised; errors would not compare")
    with torch.no_grad():
        h = model.net.encode(val)
    jac = float(encoder_jacobian(model.net, val).pow(2).sum(dim=(1, 2)).mean())
    out = {
        "val": float(np.mean((model.reconstruct_array(val.numpy()) - val.numpy()) ** 2)),
        "zeros": float((h.abs() < 0.01 * h.abs().max(dim=0).values).float().mean()),
        "mean_h": float(h.mean()),
        "jac": jac,
        "jac_rel": jac / max(float(h.var(dim=0).sum()), 1e-12),
    }
    low, high = fit_rows.min(dim=0).values, fit_rows.max(dim=0).values
    for column, spec in NOISES.items():
        noisy = Corruption(spec, low, high)(val, torch.Generator().manual_seed(123))
        recon = model.reconstruct_array(noisy.numpy())
        out[column] = float(np.mean((recon - val.numpy()) ** 2))
    return out


def table(name: str, steps: int) -> list[str]:
    """Markdown lines for one dataset."""
    frame = pd.read_csv(DATA / f"{name}.csv")
    dropped = near_constant(name)
    lines = [
        f"**{name}** ({frame.shape[0]} rows x {frame.shape[1] - len(dropped)} columns"
        + (f", {len(dropped)} near-constant ones dropped" if dropped else "")
        + f"; K={LATENT}; {steps}-step budget)",
        "",
        "| model | val MSE | x base | zeros | mean h | \\|J\\|^2 | \\|J\\|^2/var | gauss | mask "
        "| s&p | time x |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    base: dict[str, float] = {}
    for row in ROWS:
        model, seconds = fit(name, row.kind, {"steps": steps, **dict(row.options)})
        m = measure(model, name)
        m["seconds"] = seconds
        base = base or m
        lines.append(
            f"| {row.label} | {m['val']:.4f} | {m['val'] / base['val']:.2f} | {m['zeros']:.3f} "
            f"| {m['mean_h']:.3f} | {m['jac']:.3g} | {m['jac_rel']:.3f} | {m['gauss']:.4f} "
            f"| {m['mask']:.4f} | {m['s&p']:.4f} "
            f"| {m['seconds'] / base['seconds']:.1f} ({m['seconds']:.1f} s) |"
        )
        print(lines[-1], file=sys.stderr, flush=True)
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=4000, help="optimiser-step budget per model")
    parser.add_argument("--quick", action="store_true", help="300 steps, breast cancer only")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps = 300 if args.quick else args.steps
    datasets = ("breast_cancer",) if args.quick else DATASETS
    started = time.perf_counter()
    fit("breast_cancer", "undercomplete", {"steps": 20})  # warm-up: imports, first allocations
    out = []
    for name in datasets:
        out += table(name, steps)
    print("\n".join(out))
    print(
        f"aecli {aecli.__version__}, torch {torch.__version__}, {platform.machine()}, "
        f"one torch thread; total {time.perf_counter() - started:.0f} s"
    )


if __name__ == "__main__":
    main()
