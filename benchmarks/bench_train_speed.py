"""Training CPU time of aecli's loop against a bare PyTorch loop doing the same work.

What is timed (the target): `time.process_time()` around aecli's training loop only, i.e.
`aecli.training.Trainer(...)` + `.run()` (or `aecli.training.fit(...)` in versions that have it):
no start-up, no CSV reading, no schema fitting, no PCA, no metrics. Against it, the bare loop below.
Both run with `torch.set_num_threads(1)`, on the same standardised tensors and the same
train/validation split, starting from identical weights. With `--api`, the table also times the
whole `aecli.train(frame, ...)` call on an in-memory DataFrame (adds schema fitting, PCA start and
baseline, metrics, code-density fit), which is what a library user pays; for information only.

The bare loop is what a careful user would write by hand: the same network built from
nn.Linear / nn.GELU (linear skip path + MLP residual, encoder and decoder), the same batches
(`torch.randperm` with a generator seeded like aecli's), Adam with the same per-step cosine
LambdaLR schedule, and, to be fair, the same per-epoch validation pass (MSE on the validation rows
under `torch.no_grad()`), since aecli needs one for early stopping. It does not track the training
loss, check for divergence or keep the best epoch's weights: the cost of those features is part
of what the ratio measures. `patience=0`, so aecli runs every planned epoch.

Run from the repository root:  .venv/bin/python benchmarks/bench_train_speed.py [--repeats N]

`--count --data wine --epochs 100` counts the instructions of the same two timed regions instead,
which a busy machine cannot disturb: the script runs itself under valgrind's callgrind with
instrumentation off until the warm-ups are done, and a tiny C helper (compiled on the fly with
gcc against valgrind/callgrind.h) zeroes the counters where the CPU clock would start and dumps
them where it would stop, so start-up, imports, data loading and the warm-ups count for neither
loop. Needs valgrind with its headers and gcc; ~3-8 minutes on wine, 100 epochs.

`--single aecli|bare|setup --data wine --epochs 100` runs one loop once (or only the set-up), for
the older whole-process recipe in README.md (ratio = (aecli - setup) / (bare - setup)), which
subtracts two separately counted processes and so carries their difference as noise (~1%).
"""

from __future__ import annotations

import argparse
import ctypes
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from aecli import training
from aecli.api import split_rows, train
from aecli.data.table_files import read_table
from aecli.options import TrainOptions
from aecli.parts.architecture import Architecture
from aecli.parts.networks import AutoencoderNet
from aecli.parts.objective import Objective

try:
    from aecli.parts.likelihoods import Likelihood
except ImportError:  # versions before the likelihood / penalty split (Objective(opts, low, high))
    Likelihood = None

try:
    from aecli.data.table_schema import TableSchema
except ImportError:  # versions before the schema / tabular split
    from aecli.data.table_files import TableSchema

DATA = Path(__file__).resolve().parents[1] / "sample_data"
TARGET = 1.05


class Meter:
    """What a run measures between `start` and `stop`: CPU seconds (`time.process_time`), or,
    under callgrind with `--count`, the instructions executed (from a dump of the counters)."""

    def __init__(self, helper: Any = None, dumps: str = "") -> None:
        self.helper, self.dumps, self.count = helper, dumps, 0
        self.t0 = 0.0

    def start(self) -> None:
        if self.helper is None:
            self.t0 = time.process_time()
        else:
            self.helper.cg_zero()

    def stop(self, label: str) -> float:
        if self.helper is None:
            return time.process_time() - self.t0
        self.helper.cg_dump(label.encode())
        self.count += 1
        return float(dump_total(f"{self.dumps}.{self.count}"))


CPU = Meter()

HELPER_C = """
#include <valgrind/callgrind.h>
int on_valgrind(void) { return RUNNING_ON_VALGRIND; }
void cg_start(void) { CALLGRIND_START_INSTRUMENTATION; }
void cg_zero(void) { CALLGRIND_ZERO_STATS; }
void cg_dump(const char *label) { CALLGRIND_DUMP_STATS_AT(label); }
"""


def dump_total(path: str) -> int:
    """The instruction count of one callgrind dump (its `summary:` line)."""
    for line in Path(path).read_text().splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise RuntimeError(f"no summary in {path}")


@dataclass(frozen=True)
class Case:
    """One dataset and training set-up to time."""

    name: str
    latent_dim: int
    epochs: int
    hidden: tuple[int, ...] = (128, 64)
    batch_size: int = 128


CASES = [
    Case("digits", latent_dim=8, epochs=100),
    Case("breast_cancer", latent_dim=4, epochs=200),
    Case("wine", latent_dim=4, epochs=500),
]


def load_split(name: str, seed: int) -> tuple[pd.DataFrame, torch.Tensor, torch.Tensor]:
    """The table, and its standardised training and validation tensors split as `aecli.train`
    splits them (default --val-fraction 0.1)."""
    frame = read_table(DATA / f"{name}.csv")
    train_rows, val_rows = split_rows(len(frame), 0.1, seed)
    schema = TableSchema.fit(frame, (), rows=train_rows)
    x = schema.to_array(frame)
    return frame, torch.from_numpy(x[train_rows]), torch.from_numpy(x[val_rows])


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with GELU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.GELU())
    return nn.Sequential(*layers)


class BareNet(nn.Module):
    """The same architecture as AutoencoderNet, written by hand: skip path + MLP residual."""

    def __init__(self, d: int, k: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.enc_skip = nn.Linear(d, k)
        self.dec_skip = nn.Linear(k, d)
        self.enc_mlp = mlp([d, *hidden, k])
        self.dec_mlp = mlp([k, *reversed(hidden), d])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.enc_skip(x) + self.enc_mlp(x)
        return self.dec_skip(h) + self.dec_mlp(h)


def bare_loop(
    net: nn.Module,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
) -> float:
    """A plain training loop; returns the last validation MSE."""
    gen = torch.Generator().manual_seed(seed)
    n = len(x_train)
    batch = min(batch_size, n)
    total = epochs * math.ceil(n / batch)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda t: 0.5 * (1 + math.cos(math.pi * min(t, total) / total))
    )
    val = math.nan
    for _ in range(epochs):
        net.train()
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, batch):
            xb = x_train[order[start : start + batch]]
            loss = (net(xb) - xb).pow(2).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
        net.eval()
        with torch.no_grad():
            val = float((net(x_val) - x_val).pow(2).mean())
    return val


def initial_weights(case: Case, n_features: int, seed: int) -> dict[str, torch.Tensor]:
    """The starting weights both loops use: aecli's network as built after `manual_seed(seed)`."""
    torch.manual_seed(seed)
    net = AutoencoderNet(Architecture(n_features, case.latent_dim, case.hidden, "gelu"))
    return {k: v.clone() for k, v in net.state_dict().items()}


def run_aecli(
    case: Case,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    seed: int,
    start: dict[str, torch.Tensor],
    meter: Meter = CPU,
) -> tuple[float, float]:
    """(CPU seconds, or instructions, of aecli's training loop; final validation MSE)."""
    opts = TrainOptions(
        kind="undercomplete",
        latent_dim=case.latent_dim,
        hidden=case.hidden,
        epochs=case.epochs,
        batch_size=case.batch_size,
        patience=0,
        seed=seed,
    ).resolved()
    net = AutoencoderNet(Architecture(x_train.shape[1], case.latent_dim, case.hidden, "gelu"))
    net.load_state_dict(start)
    objective = make_objective(opts, x_train)
    meter.start()
    history = fit_loop(net, objective, x_train, x_val, opts)
    measure = meter.stop("aecli")
    return measure, history["records"][-1]["val_loss"]


def make_objective(opts: TrainOptions, x_train: torch.Tensor) -> Objective:
    """The objective `aecli.train` builds for this kind on numeric columns: every column Gaussian
    (squared error), no corruption, no penalties."""
    if Likelihood is None:
        low, high = x_train.min(dim=0).values, x_train.max(dim=0).values
        return Objective(opts, low, high)  # type: ignore[arg-type]
    return Objective(Likelihood(["gaussian"] * x_train.shape[1]))


def fit_loop(
    net: AutoencoderNet,
    objective: Objective,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    opts: TrainOptions,
) -> dict[str, Any]:
    """aecli's training loop, through whichever entry point this version of aecli has."""
    if hasattr(training, "Trainer"):
        trainer = training.Trainer(net, objective, x_train, x_val, opts)
        trainer.run()
        return trainer.history()
    return training.fit(net, objective, x_train, x_val, opts)


def run_api(case: Case, frame: pd.DataFrame, seed: int) -> float:
    """CPU seconds of the whole `aecli.train` call on an in-memory DataFrame (no file reading)."""
    t0 = time.process_time()
    train(
        frame,
        kind="undercomplete",
        latent_dim=case.latent_dim,
        hidden=case.hidden,
        epochs=case.epochs,
        batch_size=case.batch_size,
        patience=0,
        seed=seed,
        threads=1,
    )
    return time.process_time() - t0


def run_bare(
    case: Case,
    x_train: torch.Tensor,
    x_val: torch.Tensor,
    seed: int,
    start: dict[str, torch.Tensor],
    meter: Meter = CPU,
) -> tuple[float, float]:
    """(CPU seconds, or instructions, of the bare loop; final validation MSE), from the same
    initial weights."""
    net = BareNet(x_train.shape[1], case.latent_dim, case.hidden)
    with torch.no_grad():  # same registration order, so the parameters pair up one to one
        for mine, theirs in zip(net.parameters(), start.values(), strict=True):
            mine.copy_(theirs)
    meter.start()
    val = bare_loop(net, x_train, x_val, case.epochs, case.batch_size, 1e-3, seed)
    return meter.stop("bare"), val


def warmed(
    name: str, epochs: int, seed: int
) -> tuple[Case, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The case, its split and start weights, after a one-epoch warm-up of both loops (which
    pays torch's one-time initialisation outside the measured region)."""
    base = next(c for c in CASES if c.name == name)
    case = Case(name, base.latent_dim, epochs, base.hidden, base.batch_size)
    warm = Case(name, base.latent_dim, 1, base.hidden, base.batch_size)
    _, x_train, x_val = load_split(name, seed)
    start = initial_weights(case, x_train.shape[1], seed)
    run_aecli(warm, x_train, x_val, seed, start)
    run_bare(warm, x_train, x_val, seed, start)
    return case, x_train, x_val, start


def single(loop: str, name: str, epochs: int, seed: int = 0) -> None:
    """Run one loop once after a one-epoch warm-up of both ('setup': the warm-up only)."""
    case, x_train, x_val, start = warmed(name, epochs, seed)
    if loop == "aecli":
        print(run_aecli(case, x_train, x_val, seed, start))
    elif loop == "bare":
        print(run_bare(case, x_train, x_val, seed, start))


def count(name: str, epochs: int, seed: int = 0) -> int:
    """Run this script under callgrind (`--count-inner`) and print both loops' instructions."""
    with tempfile.TemporaryDirectory(prefix="bench-train-count-") as tmp:
        helper = Path(tmp) / "libcg.so"
        source = Path(tmp) / "cg.c"
        source.write_text(HELPER_C)
        gcc = ["gcc", "-shared", "-fPIC", "-O1", str(source), "-o", str(helper)]
        subprocess.run(gcc, check=True)
        dumps = str(Path(tmp) / "cg.out")
        command = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dumps}",
            sys.executable, __file__, "--count-inner", f"{helper}:{dumps}",
            "--data", name, "--epochs", str(epochs),
        ]  # fmt: skip
        env = dict(os.environ, PYTHONHASHSEED="0")
        result = subprocess.run(command, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            sys.stderr.write(result.stderr[-4000:])
            return result.returncode
        sys.stdout.write(result.stdout)
    return 0


def count_inner(where: str, name: str, epochs: int, seed: int = 0) -> None:
    """Under callgrind: both warm-ups uninstrumented, then each loop's region counted alone."""
    library, dumps = where.split(":", 1)
    helper = ctypes.CDLL(library)
    if not helper.on_valgrind():
        raise SystemExit("--count-inner runs under valgrind; use --count")
    case, x_train, x_val, start = warmed(name, epochs, seed)
    helper.cg_start()
    meter = Meter(helper, dumps)
    a_count, a_val = run_aecli(case, x_train, x_val, seed, start, meter)
    b_count, b_val = run_bare(case, x_train, x_val, seed, start, meter)
    steps = epochs * math.ceil(len(x_train) / min(case.batch_size, len(x_train)))
    same = bool(np.isclose(a_val, b_val, rtol=1e-4, atol=1e-6))
    ratio = a_count / b_count
    print(
        f"# instructions (callgrind) of the timed regions, {name}, {epochs} epochs, {steps} "
        f"steps, torch {torch.__version__}, 1 thread"
    )
    print("| data | epochs | steps | bare loop, M | aecli loop, M | ratio | aecli - bare, M "
          "| per step, k | same loss |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {name} | {epochs} | {steps} | {b_count / 1e6:,.1f} | {a_count / 1e6:,.1f} "
        f"| {ratio:.4f} | {(a_count - b_count) / 1e6:,.1f} "
        f"| {(a_count - b_count) / steps / 1e3:,.1f} | {'yes' if same else 'NO'} |"
    )
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"\ntarget: aecli's loop <= {TARGET:.2f} x the bare loop in instructions -> {verdict}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=6, help="paired runs of the two loops")
    parser.add_argument("--api", action="store_true", help="also time the whole aecli.train call")
    parser.add_argument("--single", choices=("aecli", "bare", "setup"), help="run one loop once")
    parser.add_argument("--data", choices=[c.name for c in CASES], default="wine")
    parser.add_argument("--epochs", type=int, default=100, help="epochs for --single / --count")
    parser.add_argument(
        "--count", action="store_true", help="count both loops' instructions under callgrind"
    )
    parser.add_argument("--count-inner", help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    seed = 0
    if args.count:
        return count(args.data, args.epochs, seed)
    if args.count_inner:
        count_inner(args.count_inner, args.data, args.epochs, seed)
        return 0
    if args.single:
        single(args.single, args.data, args.epochs, seed)
        return 0
    print(
        f"# aecli training loop vs a bare PyTorch loop: CPU seconds (process_time), torch "
        f"{torch.__version__}, 1 thread, {args.repeats} pairs (order alternating), medians; "
        f"{platform.python_implementation()} {platform.python_version()}"
    )
    header = (
        f"| {'data':<13} | {'rows x cols':>11} | {'k':>2} | {'epochs':>6} | {'steps':>5} "
        f"| {'bare s':>6} | {'aecli s':>7} | {'ratio':>5} | {'range':>11} | {'same loss':>9} |"
    )
    if args.api:
        header += f" {'train() s':>9} | {'ratio':>5} |"
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    worst = 0.0
    for case in CASES:
        frame, x_train, x_val = load_split(case.name, seed)
        start = initial_weights(case, x_train.shape[1], seed)
        run_aecli(case, x_train, x_val, seed, start)  # warm-up: first-call allocations
        run_bare(case, x_train, x_val, seed, start)
        aecli_s: list[float] = []
        bare_s: list[float] = []
        api_s: list[float] = []
        same = True
        for i in range(args.repeats):
            if i % 2 == 0:
                a_sec, a_val = run_aecli(case, x_train, x_val, seed, start)
                b_sec, b_val = run_bare(case, x_train, x_val, seed, start)
            else:
                b_sec, b_val = run_bare(case, x_train, x_val, seed, start)
                a_sec, a_val = run_aecli(case, x_train, x_val, seed, start)
            if args.api:
                api_s.append(run_api(case, frame, seed))
            aecli_s.append(a_sec)
            bare_s.append(b_sec)
            same = same and bool(np.isclose(a_val, b_val, rtol=1e-4, atol=1e-6))
        a_med, b_med = statistics.median(aecli_s), statistics.median(bare_s)
        ratios = [a / b for a, b in zip(aecli_s, bare_s, strict=True)]
        ratio = statistics.median(ratios)
        worst = max(worst, ratio)
        steps = case.epochs * math.ceil(len(x_train) / min(case.batch_size, len(x_train)))
        shape = f"{len(frame)} x {x_train.shape[1]}"
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        row = (
            f"| {case.name:<13} | {shape:>11} | {case.latent_dim:>2} | {case.epochs:>6} "
            f"| {steps:>5} | {b_med:>6.3f} | {a_med:>7.3f} | {ratio:>5.3f} | {spread:>11} "
            f"| {'yes' if same else 'NO':>9} |"
        )
        if api_s:
            api_med = statistics.median(api_s)
            row += f" {api_med:>9.3f} | {api_med / b_med:>5.3f} |"
        print(row)
    verdict = "met" if worst <= TARGET else "NOT met"
    print(
        f"\ntarget: aecli's loop <= {TARGET:.2f} x the bare loop (median of paired ratios, every "
        f"row) -> {verdict}; reference: pythae measured 1.5x"
    )
    print("ratio, range: median and lowest-highest of the per-pair ratios aecli s / bare s")
    print("same loss: both loops ended at the same validation MSE (same batches, same arithmetic)")
    if args.api:
        print("train() s: the whole aecli.train(frame) call, set-up and metrics included (info)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
