"""Start-up cost of `aecli --help` against `python -c pass`, and whether the CLI imports torch.

Runs the installed console script (next to the interpreter, e.g. .venv/bin/aecli) and the same
interpreter with `-c pass`, alternating, many times, and reports the median wall time of each and
the difference. `python -c "import torch"` is timed too (fewer runs: it is slow), to show what
importing torch at start-up would add.
Target: torch is not imported, and `aecli --help` costs well under 0.5 s more than `python -c pass`.

Run from the repository root:  .venv/bin/python benchmarks/bench_help.py [--repeats N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 0.5
HEAVY = ("torch", "numpy", "pandas", "pyarrow", "safetensors", "rich")


def console_script() -> Path:
    """The `aecli` entry point installed beside this interpreter."""
    script = Path(sys.executable).parent / "aecli"
    if not script.exists():
        sys.exit(f"no console script at {script}; install the package (pip install -e .)")
    return script


def wall_time(cmd: list[str]) -> float:
    """Seconds from launch to exit of one run (output discarded; a failure stops the benchmark)."""
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def modules_imported(cmd: list[str]) -> set[str]:
    """Top-level modules a command imports, from Python's -X importtime report on stderr."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    result = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    names = set()
    for line in result.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def import_cli_loads_torch() -> bool:
    """Whether `import aecli.cli` alone, in a fresh interpreter, puts torch in sys.modules."""
    code = "import sys, aecli.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip() == "True"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=40, help="runs of each command")
    args = parser.parse_args()
    script = str(console_script())
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "aecli --help": [script, "--help"],
        "aecli train --help": [script, "train", "--help"],
        'python -c "import torch"': [sys.executable, "-c", "import torch"],
    }
    runs = {name: args.repeats for name in commands}
    runs['python -c "import torch"'] = max(3, args.repeats // 8)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for cmd in commands.values():  # warm the file cache once
        wall_time(cmd)
    for i in range(args.repeats):
        for name, cmd in commands.items():
            if i < runs[name]:
                times[name].append(wall_time(cmd))
    base = statistics.median(times["python -c pass"])
    print(f"# start-up wall time, alternating runs, medians; {script}")
    header = (
        f"| {'command':<26} | {'runs':>4} | {'median s':>8} | {'min s':>6} "
        f"| {'- python -c pass':>16} | {'heavy modules imported':<28} |"
    )
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    heavy_in_help: set[str] = set()
    for name, cmd in commands.items():
        median = statistics.median(times[name])
        heavy = sorted(modules_imported(cmd) & set(HEAVY))
        if name.startswith("aecli"):
            heavy_in_help |= set(heavy)
        print(
            f"| {name:<26} | {runs[name]:>4} | {median:>8.3f} | {min(times[name]):>6.3f} "
            f"| {median - base:>+16.3f} | {', '.join(heavy) or '-':<28} |"
        )
    extra = statistics.median(times["aecli --help"]) - base
    cli_torch = import_cli_loads_torch()
    print(f"\n`import aecli.cli` imports torch: {'yes' if cli_torch else 'no'}")
    help_torch = "torch" in heavy_in_help
    print(f"`aecli --help` or `aecli train --help` imports torch: {'yes' if help_torch else 'no'}")
    met = not cli_torch and not help_torch and extra < TARGET_S
    verdict = "met" if met else "NOT met"
    print(f"target: no torch, and aecli --help < python -c pass + {TARGET_S} s -> {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
