"""The default code size of a wide table (more than 1,024 model-space columns, as many one-hot
slots make): aecli's `components_for` (the centred scatter summed block by block) side by side
with the exact SVD of the centred float64 rows (what it did before), on the same seeded rows.
Each method runs in its own process; reported: CPU seconds, peak RSS beyond the rows, the k found.

    nice -n 10 .venv/bin/python benchmarks/bench_wide.py --rows 40000 --columns 1500
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time
import numpy as np
n, d, method = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
rng = np.random.default_rng(0)
x = rng.normal(size=(n, 20)).astype(np.float32) @ rng.normal(size=(20, d)).astype(np.float32)
x += 0.1 * rng.normal(size=(n, d)).astype(np.float32)
x[rng.random(x.shape) < 0.01] = np.nan
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
if method == "aecli":
    from aecli.pca import components_for
    k = components_for(x, 0.95)
else:  # the exact SVD of the mean-filled, centred rows in float64
    filled = np.where(np.isnan(x), np.nanmean(x, axis=0), x).astype(np.float64)
    s = np.linalg.svd(filled - filled.mean(axis=0), compute_uv=False)
    k = int(np.searchsorted(np.cumsum(s**2) / (s**2).sum(), 0.95 - 1e-9) + 1)
cpu = time.process_time() - start
extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print(json.dumps({"k": k, "cpu": cpu, "extra_mib": extra}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=40_000)
    parser.add_argument("--columns", type=int, default=1_500)
    args = parser.parse_args()
    results = {}
    for method in ("aecli", "svd"):
        argv = [sys.executable, "-c", CHILD, str(args.rows), str(args.columns), method]
        out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
        results[method] = json.loads(out.strip().splitlines()[-1])
    a, s = results["aecli"], results["svd"]
    print(f"{args.rows:,} x {args.columns:,} rows (float32, 1% missing), share 0.95")
    print("| method | k | CPU s | peak MiB beyond the rows |")
    print("|---|---|---|---|")
    for name, r in (("aecli components_for", a), ("exact SVD (float64)", s)):
        print(f"| {name} | {r['k']} | {r['cpu']:.1f} | {r['extra_mib']:.0f} |")
    print(f"CPU ratio aecli / SVD: {a['cpu'] / s['cpu']:.2f}; same k: {a['k'] == s['k']}")


if __name__ == "__main__":
    main()
