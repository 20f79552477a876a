"""Data of any size (issue 12): wall time and peak memory of `aecli encode` on a CSV and on a
Parquet file of N and 4N rows x 50 columns, side by side with a streamed pyarrow pipeline
(pyarrow reader in 1 MiB blocks -> the same network -> pyarrow writer); peak memory of
`aecli train --epochs 1` on N and 4N rows (as the defaults choose: in memory up to 512 MiB of
input, streamed beyond; and streamed at both sizes); and of training on a folder of M and 4M
64x64 PNGs (made here) with the images decoded per batch.

Every measured command runs in its own process under /usr/bin/time (peak RSS, wall seconds).
The data is generated here (seeded); nothing is downloaded.

    nice -n 10 .venv/bin/python benchmarks/bench_scale.py --rows 1000000 --images 5000  # the issue
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COLUMNS = 50
MEMORY_BYTES = 512 << 20  # AECLI_TRAIN_MEMORY's default: larger inputs stream by default
HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
AECLI = [PYTHON, "-m", "aecli"]

PIPELINE = r"""
import sys, numpy as np, torch, pyarrow as pa, pyarrow.csv as pacsv, pyarrow.parquet as pq
import aecli
torch.set_num_threads(1)
model_path, source, target = sys.argv[1:4]
model = aecli.load(model_path)
cols = model.adapter.columns
mean = np.array([c.mean for c in cols]); scale = np.array([c.scale for c in cols])
names = [c.name for c in cols]
if source.endswith(".parquet"):
    rows = (1 << 20) // (8 * len(names))
    batches = pq.ParquetFile(source, pre_buffer=False).iter_batches(batch_size=rows)
else:
    batches = pacsv.open_csv(source, read_options=pacsv.ReadOptions(block_size=1 << 20))
writer = None
with torch.no_grad():
    for batch in batches:
        x = np.column_stack([batch.column(n).to_numpy(zero_copy_only=False) for n in names])
        x = ((x - mean) / scale).astype(np.float32)
        z = model.net.encode(torch.from_numpy(x)).numpy()
        table = pa.table({f"z{i + 1}": z[:, i] for i in range(z.shape[1])})
        if writer is None:
            writer = (pq.ParquetWriter(target, table.schema) if target.endswith(".parquet")
                      else pacsv.CSVWriter(target, table.schema))
        writer.write_table(table)
writer.close()
"""


def measure(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system: what a loaded machine
    disturbs least) of one command in its own process."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        subprocess.run(
            ["/usr/bin/time", "-f", "%M %U %S", "-o", report.name, *argv],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
        )
        wall = time.perf_counter() - started
        peak_kib, user, system = map(float, report.read().strip().splitlines()[-1].split())
    return wall, peak_kib / 1024, user + system


def make_data(folder: Path, rows: int) -> tuple[Path, Path]:
    """N rows x 50 correlated float columns, as CSV and Parquet, written in blocks."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    csv_path, pq_path = folder / f"d{rows}.csv", folder / f"d{rows}.parquet"
    if csv_path.exists() and pq_path.exists():  # made by an earlier run (--data)
        return csv_path, pq_path
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(8, COLUMNS))
    names = [f"c{j}" for j in range(COLUMNS)]
    writers = None
    for start in range(0, rows, 100_000):
        n = min(100_000, rows - start)
        x = rng.normal(size=(n, 8)) @ mixing + 0.1 * rng.normal(size=(n, COLUMNS))
        table = pa.table({name: x[:, j] for j, name in enumerate(names)})
        if writers is None:
            writers = (
                pacsv.CSVWriter(csv_path, table.schema),
                pq.ParquetWriter(pq_path, table.schema),
            )
        for writer in writers:
            writer.write_table(table)
    assert writers is not None
    for writer in writers:
        writer.close()
    return csv_path, pq_path


def make_images(folder: Path, count: int) -> Path:
    """`count` seeded 64x64 RGB PNGs: smooth colour fields with noise."""
    from PIL import Image

    root = folder / f"images{count}"
    root.mkdir()
    rng = np.random.default_rng(count)
    ramp = np.linspace(0, 1, 64)
    for i in range(count):
        colour = rng.uniform(0, 255, 3)
        field = np.outer(ramp, rng.uniform(0.2, 1, 64))[..., None] * colour
        pixels = np.clip(field + rng.normal(0, 12, (64, 64, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(pixels).save(root / f"{i:06d}.png")
    return root


def encode_rows(folder: Path, sizes: tuple[int, int], data: dict[int, tuple[Path, Path]]) -> None:
    """(a) and (b): aecli encode against the pipeline, CSV and Parquet, at N and 4N rows."""
    model = folder / "m.safetensors"
    head = folder / "head.csv"
    with open(data[sizes[0]][0]) as src, open(head, "w") as dst:  # train the model on 20k rows
        for i, line in enumerate(src):
            if i > 20_000:
                break
            dst.write(line)
    subprocess.run(
        [*AECLI, "train", str(head), "-o", str(model), "--epochs", "1", "--quiet"], check=True
    )
    script = folder / "pipeline.py"
    script.write_text(PIPELINE)
    print(
        "| input | rows | aecli s | pipeline s | time ratio | aecli CPU s | pipeline CPU s "
        "| CPU ratio | aecli MiB | pipeline MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    peaks: dict[str, list[float]] = {"csv": [], "parquet": []}
    for kind, index in (("csv", 0), ("parquet", 1)):
        for n in sizes:
            source = data[n][index]
            out = folder / f"codes.{kind}"
            aecli_run = measure(
                [*AECLI, "encode", str(model), str(source), "-o", str(out), "-f", "-q"]
            )
            out.unlink()
            pipe_run = measure([PYTHON, str(script), str(model), str(source), str(out)])
            out.unlink()
            peaks[kind].append(aecli_run[1])
            print(
                f"| {kind} | {n:,} | {aecli_run[0]:.1f} | {pipe_run[0]:.1f} | "
                f"{aecli_run[0] / pipe_run[0]:.2f} | {aecli_run[2]:.1f} | {pipe_run[2]:.1f} | "
                f"{aecli_run[2] / pipe_run[2]:.2f} | {aecli_run[1]:.0f} | {pipe_run[1]:.0f} |",
                flush=True,
            )
    for kind, (small, large) in peaks.items():
        print(f"\nencode {kind}: peak RSS 4N / N = {large / small:.2f}")


def train_runs(
    folder: Path,
    label: str,
    sources: dict[int, Path],
    extra: list[str],
    streams: set[int],
    budget: tuple[str, ...] = ("--epochs", "1"),
) -> None:
    """(c) and (d): train --epochs 1 (or `budget`) at both sizes, as the defaults choose and
    streamed; a size in `streams` streams by default too, so its streamed run is measured once
    and shown twice."""
    done: dict[int, tuple[float, float, float]] = {}
    for how, env in (("streamed", {"AECLI_TRAIN_MEMORY": "0"}), ("default", {})):
        peaks = []
        for n, source in sources.items():
            out = folder / f"t{n}.safetensors"
            argv = [*AECLI, "train", str(source), "-o", str(out), *budget, "-q", "-f"]
            same = how == "default" and n in streams and n in done
            run = done[n] if same else measure([*argv, *extra], env)
            done.setdefault(n, run)
            peaks.append(run[1])
            shown = f"{how} (= streamed)" if same else how
            print(
                f"| {label} | {shown} | {n:,} | {run[0]:.1f} | {run[2]:.1f} | {run[1]:.0f} |",
                flush=True,
            )
        print(f"| {label} | {how} | 4x / 1x peak RSS | | | {peaks[1] / peaks[0]:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="N (the large run is 4N)")
    parser.add_argument("--images", type=int, default=5000, help="M images (the large run: 4M)")
    parser.add_argument("--skip-encode", action="store_true")
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--skip-images", action="store_true")
    parser.add_argument("--data", type=Path, help="keep (and reuse) the generated tables here")
    parser.add_argument(
        "--image-steps",
        type=int,
        help="optimiser steps of each image run (default: one epoch; the same number at both "
        "sizes compares like with like)",
    )
    args = parser.parse_args()
    sizes = (args.rows, 4 * args.rows)
    with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
        folder = Path(tmp)
        print(f"rows N = {sizes[0]:,}; 50 float columns; peak RSS in MiB; wall in s\n")
        if not (args.skip_encode and args.skip_train):
            data = {n: make_data(args.data or folder, n) for n in sizes}
            if not args.skip_encode:
                encode_rows(folder, sizes, data)
        print("\n| training | how | rows / images | wall s | CPU s | peak MiB |")
        print("|---|---|---|---|---|---|")
        if not args.skip_train:
            files = {n: data[n][1] for n in sizes}
            large = {n for n, f in files.items() if f.stat().st_size > MEMORY_BYTES}
            train_runs(folder, "table (Parquet)", files, [], large)
        if not args.skip_images:
            counts = (args.images, 4 * args.images)
            folders = {m: make_images(folder, m) for m in counts}
            options = ["--latent-dim", "16", "--workers", "1"]
            budget = ("--steps", str(args.image_steps)) if args.image_steps else ("--epochs", "1")
            large = {m for m in counts if m * 64 * 64 * 3 * 4 > MEMORY_BYTES}
            train_runs(folder, "64x64 PNG folder", folders, options, large, budget)


if __name__ == "__main__":
    main()
