"""Training throughput of one process against two under torchrun (gloo, CPU), one epoch.

What is timed: the training loop of one epoch only (from its first optimiser step to the end of
the epoch, read from aecli's progress ticks), on the same table of `--rows` rows x 16 columns
(Parquet, seeded), with the same global batch (`--batch-size`, default 256) and one torch thread
per process. The baseline is the single process. Reading, schema fitting, PCA and the
post-training figures are not in the loop's time (every rank reads the whole table); the wall
time of each whole run and the largest peak RSS of its processes are printed beside it.

Run from the repository root:  .venv/bin/python benchmarks/bench_distributed.py [--rows N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_table(path: Path, rows: int) -> None:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    z = rng.normal(size=(rows, 4)).astype(np.float32)
    x = z @ rng.normal(size=(4, 16)).astype(np.float32)
    x += 0.1 * rng.normal(size=x.shape).astype(np.float32)
    pd.DataFrame(x, columns=[f"c{i}" for i in range(16)]).to_parquet(path, index=False)


def worker(path: str, batch: int) -> None:
    """One process (or one rank): train one epoch, print the loop's seconds as JSON (rank 0)."""
    import aecli
    from aecli.progress import listening

    seen: dict[str, float] = {}

    def listen(tick) -> None:  # type: ignore[no-untyped-def]
        if tick.unit == "steps":
            seen.setdefault("first", time.perf_counter())
            seen["last"] = time.perf_counter()

    with listening(listen):
        model = aecli.train(
            path, epochs=1, patience=0, hidden=(64,), latent_dim=4, batch_size=batch,
            threads=1, device="cpu", val_fraction=0.01,
        )  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)
    if os.environ.get("RANK", "0") != "0":
        print(json.dumps({"peak_mib": peak}))
        return
    rows = model.metrics["rows_train"]
    loop = seen["last"] - seen["first"]
    world = model.history["world_size"]
    print(json.dumps({"world": world, "rows": rows, "seconds": loop, "peak_mib": peak}))


def run(command: list[str]) -> dict[str, float]:
    """Rank 0's figures, the largest peak RSS of any process and the run's wall seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    result = next(line for line in lines if "world" in line)
    result["peak_mib"] = max(line["peak_mib"] for line in lines)
    result["wall"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--processes", default="1,2", help="which runs: 1, 2 or 1,2")
    parser.add_argument("--worker", metavar="PATH")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.batch_size)
        return
    folder = Path(tempfile.mkdtemp())
    try:
        data = folder / "rows.parquet"
        make_table(data, args.rows)
        me = [__file__, "--worker", str(data), "--batch-size", str(args.batch_size)]
        torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or "torchrun"
        both = {
            1: [sys.executable, *me],
            2: [torchrun, "--nproc-per-node", "2", "--master-port", "29561", *me],
        }
        results = [run(both[int(p)]) for p in args.processes.split(",")]
    finally:
        shutil.rmtree(folder)
    print(f"one epoch, {args.rows:,} rows x 16, global batch {args.batch_size}, 1 thread each\n")
    print("| processes | loop seconds | rows/s total | rows/s per process | peak MiB per process "
          "| run wall seconds |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        total = r["rows"] / r["seconds"]
        print(
            f"| {r['world']} | {r['seconds']:.1f} | {total:,.0f} | {total / r['world']:,.0f} "
            f"| {r['peak_mib']:.0f} | {r['wall']:.0f} |"
        )


if __name__ == "__main__":
    main()
