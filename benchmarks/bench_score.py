"""Anomaly scores side by side with PyOD, in one run (issue 15).

Semi-supervised one-class detection: train on normal rows only, score a test set of held-out
normal rows and anomalies, and report ROC AUC and average precision, mean over 3 seeds (each
seed draws its own split and seeds every model).

Data sets (all offline):
- breast cancer (scikit-learn): benign rows normal, malignant anomalous;
- digits (scikit-learn, 8 x 8): one digit normal, every other digit anomalous, for 0, 1 and 8;
- MNIST one-class (../shared/data, test set): zeros normal, other digits anomalous; aecli
  trains on the images as a folder of PNGs (its convolutional image model), the others on the
  784 pixels as a table;
- penguins (sample_data, mixed types: islands and sex as categories, measurements), complete
  rows: Adelie and Gentoo normal, the rarer Chinstrap anomalous.

Detectors: aecli undercomplete (the default kind) scored by its default method (tables:
likelihood, code density + Student-t residuals; images: reconstruction), and by each method;
aecli vae (IWAE likelihood, K = 100); PCA reconstruction error with aecli's code size; PyOD
AutoEncoder, VAE, IForest, KNN and ECOD with their defaults on standardised rows (categories
one-hot). Also: the time to score 100,000 table rows on one thread.

    nice -n 10 python benchmarks/bench_score.py            # everything (a few CPU minutes)
    nice -n 10 python benchmarks/bench_score.py --quick    # one seed, for a smoke test
    --only 'breast,digits'   only the data sets whose names contain one of these words
    --no-speed               leave out the speed check; --speed-only: nothing else
    --seeds 1,2              only these seeds (default 0,1,2)
    --save FILE.json         also write every (data set, detector, seed) figure to FILE
    --merge A.json B.json    print the report of saved runs together (e.g. one process per seed)
    (run the speed check under `taskset -c 0` to hold it to one core)
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from sklearn.decomposition import PCA
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.preprocessing import StandardScaler

import aecli

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
if not SHARED.exists():
    SHARED = Path("/work/shared/data")
SEEDS = (0, 1, 2)
TRAIN_SHARE = 0.6  # of the normal rows; the rest of them join the anomalies in the test set
MNIST_TEST = 2000  # rows of the test set of MNIST (held-out zeros, then other digits)


def split(n_normal: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.random.default_rng(seed).permutation(n_normal)
    cut = int(TRAIN_SHARE * n_normal)
    return np.sort(order[:cut]), np.sort(order[cut:])


def table_set(frame: pd.DataFrame, normal: np.ndarray, seed: int, limit: int | None = None):
    """(train frame, test frame, test labels): train on normal rows, test on the rest."""
    idx_normal, idx_anom = np.where(normal)[0], np.where(~normal)[0]
    tr, te = split(len(idx_normal), seed)
    anomalies = idx_anom
    if limit is not None and len(te) + len(anomalies) > limit:
        rng = np.random.default_rng(seed + 100)
        anomalies = np.sort(rng.choice(idx_anom, limit - len(te), replace=False))
    test = np.concatenate([idx_normal[te], anomalies])
    labels = np.r_[np.zeros(len(te)), np.ones(len(anomalies))]
    train_frame = frame.iloc[idx_normal[tr]].reset_index(drop=True)
    return train_frame, frame.iloc[test].reset_index(drop=True), labels


def datasets(seed: int, only: str | None = None):
    for name, *parts in _datasets(seed):
        if only is None or any(o.strip().lower() in name.lower() for o in only.split(",")):
            yield name, *parts


def _datasets(seed: int):
    from sklearn.datasets import load_breast_cancer, load_digits

    cancer = load_breast_cancer(as_frame=True)
    yield "breast cancer", *table_set(cancer.data, cancer.target.to_numpy() == 1, seed)
    digits = load_digits(as_frame=True)
    for digit in (0, 1, 8):
        normal = digits.target.to_numpy() == digit
        yield f"digits {digit} vs rest", *table_set(digits.data, normal, seed)
    penguins = pd.read_csv(ROOT / "sample_data" / "penguins.csv").dropna().reset_index(drop=True)
    normal = penguins["species"].to_numpy() != "Chinstrap"
    yield "penguins (Chinstrap rare)", *table_set(penguins.drop(columns="species"), normal, seed)
    with gzip.open(SHARED / "mnist-t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(SHARED / "mnist-t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    pixels = pd.DataFrame(images.reshape(len(images), -1) / 255.0).add_prefix("p")
    yield "MNIST 0 one-class", *table_set(pixels, labels == 0, seed, limit=MNIST_TEST)


def numeric(train: pd.DataFrame, test: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Standardised numbers, categories one-hot: what the PyOD detectors and PCA see."""
    both = pd.get_dummies(pd.concat([train, test]), dtype=float).to_numpy(float)
    scaler = StandardScaler().fit(both[: len(train)])
    return scaler.transform(both[: len(train)]), scaler.transform(both[len(train) :])


def as_folder(frame: pd.DataFrame, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for i, row in enumerate(frame.to_numpy()):
        image = np.rint(row.reshape(28, 28) * 255).astype(np.uint8)
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return folder


def aecli_scores(name: str, train, test, seed: int, scratch: Path) -> dict[str, np.ndarray]:
    """The aecli detectors' scores of the test rows (higher = more anomalous)."""
    out = {}
    if name.startswith("MNIST"):
        train_src = as_folder(train, scratch / f"train{seed}")
        test_src = as_folder(test, scratch / f"test{seed}")
    else:
        train_src, test_src = train, test
    model = aecli.train(train_src, seed=seed, threads=1)
    out["aecli undercomplete (default method)"] = model.score_table(test_src)["score"]
    for method in ("likelihood", "reconstruction"):
        scored = model.score_table(test_src, method=method)
        out[f"aecli undercomplete, {method}"] = scored["score"]
    vae = aecli.train(train_src, kind="vae", seed=seed, threads=1)
    out["aecli vae (IWAE K=100)"] = vae.score_table(test_src, seed=seed)["score"]
    out["_k"] = np.array([model.latent_dim])
    return {k: np.asarray(v, float) for k, v in out.items()}


def baseline_scores(x_train, x_test, k: int, seed: int) -> dict[str, np.ndarray]:
    from pyod.models.auto_encoder import AutoEncoder
    from pyod.models.ecod import ECOD
    from pyod.models.iforest import IForest
    from pyod.models.knn import KNN
    from pyod.models.vae import VAE

    pca = PCA(n_components=min(k, x_train.shape[1]), random_state=seed).fit(x_train)
    recon = pca.inverse_transform(pca.transform(x_test))
    out = {"PCA reconstruction (aecli's code size)": ((recon - x_test) ** 2).mean(1)}
    detectors = {
        "PyOD AutoEncoder": lambda: AutoEncoder(random_state=seed, verbose=0),
        "PyOD VAE": lambda: VAE(random_state=seed, verbose=0),
        "PyOD IForest": lambda: IForest(random_state=seed),
        "PyOD KNN": KNN,
        "PyOD ECOD": ECOD,
    }
    for label, make in detectors.items():
        detector = make()
        detector.fit(x_train)
        out[label] = detector.decision_function(x_test)
    return out


def scoring_speed(rows: int = 100_000) -> tuple[float, float, float]:
    """Seconds to score `rows` rows of a 30-column CSV on one thread (undercomplete, default
    method), the VAE's IWAE rows per second (K = 100) and its ELBO rows per second."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).data
    rng = np.random.default_rng(0)
    big = data.iloc[rng.integers(0, len(data), rows)].reset_index(drop=True)
    big = big * rng.normal(1.0, 0.01, big.shape)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.csv"
        big.to_csv(path, index=False)
        model = aecli.train(data, seed=0, threads=1, steps=300)
        vae = aecli.train(data, kind="vae", seed=0, threads=1, steps=300)
        torch.set_num_threads(1)
        started = time.perf_counter()
        table = model.score_table(str(path))
        seconds = time.perf_counter() - started
        assert len(table) == rows
        part = big.iloc[:10_000]
        started = time.perf_counter()
        vae.score_table(part)
        iwae = len(part) / (time.perf_counter() - started)
        started = time.perf_counter()
        vae.score_table(part, fast=True)
        elbo = len(part) / (time.perf_counter() - started)
    return seconds, iwae, elbo


def main() -> None:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(1)
    if "--speed-only" in sys.argv:
        return speed()
    if "--merge" in sys.argv:
        return merge(sys.argv[sys.argv.index("--merge") + 1 :])
    seeds = SEEDS[:1] if "--quick" in sys.argv else SEEDS
    if "--seeds" in sys.argv:
        seeds = tuple(int(s) for s in sys.argv[sys.argv.index("--seeds") + 1].split(","))
    only = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            for name, train, test, labels in datasets(seed, only):
                tick = time.perf_counter()
                scores = aecli_scores(name, train, test, seed, Path(scratch))
                k = int(scores.pop("_k")[0])
                x_train, x_test = numeric(train, test)
                scores.update(baseline_scores(x_train, x_test, k, seed))
                for method, s in scores.items():
                    figures = (roc_auc_score(labels, s), average_precision_score(labels, s))
                    results.setdefault((name, method), []).append(figures)
                took = time.perf_counter() - tick
                print(f"seed {seed} {name}: {took:.1f} s", file=sys.stderr, flush=True)
    if "--save" in sys.argv:
        rows = [
            [name, method, seed, *figures]
            for (name, method), per_seed in results.items()
            for seed, figures in zip(seeds, per_seed, strict=True)
        ]
        Path(sys.argv[sys.argv.index("--save") + 1]).write_text(json.dumps(rows))
    report(results, len(seeds))
    if "--no-speed" not in sys.argv:
        speed()
    print(f"total {time.perf_counter() - started:.0f} s")


def merge(files: list[str]) -> None:
    """The report of runs saved with --save (rows: data set, detector, seed, AUC, AP)."""
    rows = [row for f in files for row in json.loads(Path(f).read_text())]
    order: dict[str, int] = {}
    for row in rows:  # the detectors in the order a run lists them
        order.setdefault(row[1], len(order))
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for name, method, _seed, auc, ap in sorted(rows, key=lambda r: (order[r[1]], r[2])):
        results.setdefault((name, method), []).append((auc, ap))
    report(results, len({row[2] for row in rows}))


def speed() -> None:
    seconds, iwae, elbo = scoring_speed()
    print(f"\nscoring 100,000 rows x 30 columns from CSV on one thread: {seconds:.2f} s")
    print(f"VAE likelihood rows per second on one thread: IWAE K=100 {iwae:,.0f}; ELBO {elbo:,.0f}")


def report(results: dict[tuple[str, str], list[tuple[float, float]]], seeds: int) -> None:
    names = list(dict.fromkeys(name for name, _ in results))
    methods = list(dict.fromkeys(method for _, method in results))
    print(f"ROC AUC / average precision, mean over {seeds} seed(s)\n")
    print("| detector | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for method in methods:
        cells = []
        for name in names:
            auc, ap = np.mean(results[(name, method)], axis=0)
            cells.append(f"{auc:.3f} / {ap:.3f}")
        print(f"| {method} | " + " | ".join(cells) + " |")
    default = methods[0]
    print("\nbest AUC per data set, and aecli's default's gap to it:")
    for name in names:
        aucs = {m: np.mean(results[(name, m)], axis=0)[0] for m in methods}
        best = max(aucs, key=aucs.__getitem__)
        pca = next(m for m in methods if m.startswith("PCA"))
        print(
            f"- {name}: best {best} {aucs[best]:.3f}; default {aucs[default]:.3f} "
            f"(gap {aucs[best] - aucs[default]:.3f}; PCA {aucs[pca]:.3f})"
        )


if __name__ == "__main__":
    main()
