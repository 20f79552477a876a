"""The GPU check of issue 19: the one script a session with a CUDA GPU runs (under 5 minutes on
an H200), whose Markdown table goes into benchmarks/README.md and the issue's note.

It trains an image VAE on sample_data/mnist (500 digits, 28x28) with the same options and seed
for `--steps` optimiser steps: on the GPU in fp32, bf16 and fp16 (autocast; fp16 with a gradient
scaler), and on the CPU in fp32 (aecli's own thread choice). For each it times the training loop
(first optimiser step to the last, from aecli's progress ticks) and the whole `aecli.train` call,
and records the best validation loss. Then each GPU-trained checkpoint is encoded on the CPU by
the CLI (`aecli encode CKPT sample_data/mnist --device cpu`) and its codes compared with the same
checkpoint's codes on the GPU: checkpoints are device-independent.

Without CUDA it says so and exits 0: nothing to check. `--device cpu` lets the CPU stand in for
the GPU (fp32 and bf16; fp16 needs a GPU), to try the script itself on a machine without one.

    .venv/bin/python benchmarks/gpu_check.py                         # on a machine with CUDA
    .venv/bin/python benchmarks/gpu_check.py --device cpu --steps 20  # the script, on a CPU
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "sample_data" / "mnist"
OPTIONS = {"kind": "vae", "seed": 0, "latent_dim": 8}
CODES_AGREE = 1e-2  # the largest |z_cpu - z_gpu| accepted (cuDNN may compute in TF32)


def train(device: str, precision: str, steps: int, out: Path) -> dict[str, object]:
    """Train one model; its timings, losses and where it was saved."""
    import aecli
    from aecli.progress import listening

    seen: dict[str, float] = {}

    def listen(tick) -> None:  # type: ignore[no-untyped-def]
        if tick.unit == "steps":
            seen.setdefault("first", time.perf_counter())
            seen["last"] = time.perf_counter()

    started = time.perf_counter()
    with listening(listen):
        model = aecli.train(str(DIGITS), device=device, precision=precision, steps=steps, **OPTIONS)
    wall = time.perf_counter() - started
    path = out / f"{device.replace(':', '')}-{precision}.safetensors"
    model.save(path, force=True)
    loop = seen.get("last", started) - seen.get("first", started)
    history = model.history
    best = history["records"][history["best_epoch"]]["val_loss"]
    return {
        "device": device,
        "precision": precision,
        "steps": history["steps_run"],
        "loop": loop,
        "wall": wall,
        "rate": history["steps_run"] / loop if loop > 0 else float("nan"),
        "val_loss": best,
        "val_mse": model.metrics.get("val_mse"),
        "path": path,
    }


def attempt(device: str, precision: str, steps: int, out: Path) -> dict[str, object]:
    """`train`, or the one-line error that stopped it (a diverged fp16 run is a finding)."""
    from aecli.errors import UserError

    try:
        return train(device, precision, steps, out)
    except UserError as error:
        return {"device": device, "precision": precision, "error": str(error)[:200]}


def codes_on_cpu_agree(run: dict[str, object], device: str, out: Path) -> float:
    """The largest |z| difference between the checkpoint's codes on `device` (in this process)
    and on the CPU through the CLI, in a fresh process."""
    import numpy as np
    import pandas as pd

    import aecli

    path = Path(str(run["path"]))
    on_device = aecli.load(path, device=device).encode(str(DIGITS))
    csv = out / f"{path.stem}-cpu-codes.csv"
    command = [sys.executable, "-m", "aecli", "encode", str(path), str(DIGITS), "--device", "cpu"]
    subprocess.run([*command, "-o", str(csv), "--force"], check=True, capture_output=True)
    on_cpu = pd.read_csv(csv)
    columns = [c for c in on_device.columns if c.startswith("z")]
    assert len(on_cpu) == len(on_device) and columns == [c for c in on_cpu if c.startswith("z")]
    gap = np.abs(on_device[columns].to_numpy(float) - on_cpu[columns].to_numpy(float))
    return float(gap.max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the GPU to check (default cuda)")
    parser.add_argument("--steps", type=int, default=600, help="optimiser steps of every run")
    args = parser.parse_args()

    import torch

    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            "gpu_check: no CUDA device here (torch.cuda.is_available() is False): nothing to check"
        )
        return 0
    started = time.perf_counter()
    on_gpu = args.device.startswith("cuda")
    precisions = ["fp32", "bf16", "fp16"] if on_gpu else ["fp32", "bf16"]
    gpu = torch.cuda.get_device_name(torch.device(args.device)) if on_gpu else platform.processor()
    out = Path(tempfile.mkdtemp(prefix="aecli-gpu-check-"))
    if on_gpu:
        train(args.device, "fp32", 20, out)  # warm-up: CUDA context, cuDNN (not reported)
    runs = [attempt(args.device, p, args.steps, out) for p in precisions]
    runs.append(attempt("cpu", "fp32", args.steps, out))
    gaps = [
        codes_on_cpu_agree(run, args.device, out) if "error" not in run else None
        for run in runs[:-1]
    ]

    cpu_rate = float(runs[-1].get("rate", "nan"))  # type: ignore[arg-type]
    print(
        f"\n{gpu} ({args.device}), torch {torch.__version__}, CUDA {torch.version.cuda}, ", end=""
    )
    print(f"{os.cpu_count()} CPU cores; image VAE on sample_data/mnist, {args.steps} steps\n")
    print("| device | precision | steps | loop s | steps/s | vs CPU | whole train s |", end="")
    print(" best val loss | val MSE | codes on CPU: max abs diff |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run, gap in zip(runs, [*gaps, None], strict=True):
        if "error" in run:
            print(f"| {run['device']} | {run['precision']} | failed: {run['error']} |")
            continue
        mse = run["val_mse"]
        cells = [
            run["device"],
            run["precision"],
            run["steps"],
            f"{run['loop']:.1f}",
            f"{run['rate']:.1f}",
            f"{float(run['rate']) / cpu_rate:.1f}x",  # type: ignore[arg-type]
            f"{run['wall']:.1f}",
            f"{run['val_loss']:.2f}",
            "" if mse is None else f"{mse:.4f}",
            "(the CPU baseline)" if gap is None else f"{gap:.2e}",
        ]
        print("| " + " | ".join(str(c) for c in cells) + " |")
    failed = [str(r["precision"]) for r in runs if "error" in r]
    pairs = zip(runs[:-1], gaps, strict=True)
    bad = [str(r["precision"]) for r, gap in pairs if gap is not None and gap > CODES_AGREE]
    if failed or bad:
        print(
            f"\nfailed: {', '.join(failed) or 'none'}; codes differ on the CPU by more than ",
            end="",
        )
        print(f"{CODES_AGREE}: {', '.join(bad) or 'none'}")
        return 1
    print(
        f"\nevery {args.device} checkpoint encodes on the CPU within {CODES_AGREE} ({out});", end=""
    )
    print(f" the check took {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
