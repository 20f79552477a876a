"""The report's plots: matplotlib figures (object API with the Agg canvas, never pyplot, so no
global backend is switched) and PIL image grids, each returned as a `data:` URI to embed.

matplotlib is imported only inside these functions: it is the `report` extra."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import numpy as np

MODEL_COLOUR, PCA_COLOUR, REAL_COLOUR = "#1f77b4", "#ff7f0e", "#555555"
MAX_CATEGORIES = 12  # label values shown in a legend; the rest are "other"


def new_figure(width: float = 7.0, height: float = 3.6) -> Any:
    """A matplotlib Figure drawn by the Agg canvas, with a small, readable default style."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_uri(fig: Any, dpi: int = 96) -> str:
    """The figure as an embedded PNG (no timestamp or software metadata: same input, same file)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def image_uri(image: Any) -> str:
    """A PIL image as an embedded PNG."""
    buf = io.BytesIO()
    image.save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


TERMS = {  # per-epoch figures a loop may record beside the losses: their panel titles
    "val_reconstruction": "reconstruction term, -E log p(x | z)",
    "val_kl": "KL term, KL(q(z | x) || N(0, I))",
}


def loss_curve(history: dict[str, Any]) -> str:
    """Training and validation loss per epoch, the best epoch marked; any other figure the loop
    recorded per epoch (a VAE's reconstruction and KL terms) in a panel of its own."""
    records = history["records"]
    found = {k for r in records for k in r} - {"epoch", "train_loss", "val_loss"}
    extra = [k for k in TERMS if k in found] + sorted(found - set(TERMS))
    fig = new_figure(min(12.0, 7.0 + 2.5 * len(extra)), 3.6)
    axes = fig.subplots(1, 1 + len(extra), squeeze=False)[0]
    ax = axes[0]
    train = [(r["epoch"], r["train_loss"]) for r in records if r["train_loss"] is not None]
    val = [(r["epoch"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
    if train:
        ax.plot(*zip(*train, strict=True), color=MODEL_COLOUR, label="training loss")
    monitor = history.get("monitor", "validation")
    ax.plot(*zip(*val, strict=True), color=PCA_COLOUR, label=f"{monitor} loss")
    best = history.get("best_epoch", 0)
    best_value = dict(val).get(best)
    if best_value is not None:
        ax.axvline(best, color="#999999", linestyle=":", linewidth=1)
        ax.plot([best], [best_value], "o", color="#d62728", label=f"best epoch {best}")
    values = [v for _, v in train + val]
    if values and min(values) > 0 and max(values) / min(values) > 30:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    for panel, name in zip(axes[1:], extra, strict=True):
        points = [(r["epoch"], r[name]) for r in records if r.get(name) is not None]
        if points:
            panel.plot(*zip(*points, strict=True), color=PCA_COLOUR)
        panel.axvline(best, color="#999999", linestyle=":", linewidth=1)
        panel.set_title(TERMS.get(name, name.replace("_", " ")), fontsize=9)
        panel.set_xlabel("epoch")
        panel.set_ylabel(f"nats per row ({monitor})" if name in TERMS else "")
    return png_uri(fig)


def bars(
    names: Sequence[str],
    model: Sequence[float],
    pca: Sequence[float] | None,
    ylabel: str,
    width: float = 9.0,
) -> str:
    """Grouped bars of the model's (and PCA's) figure per feature, in the order given."""
    fig = new_figure(width, 3.4)
    ax = fig.add_subplot()
    pos = np.arange(len(names))
    step = 0.4 if pca is not None else 0.8
    ax.bar(pos - (step / 2 if pca is not None else 0), model, step, color=MODEL_COLOUR)
    ax.bar([], [], color=MODEL_COLOUR, label="model")
    if pca is not None:
        ax.bar(pos + step / 2, pca, step, color=PCA_COLOUR, label="PCA")
    ax.set_xticks(pos, [_short(n) for n in names], rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False)
    return png_uri(fig)


def pca_curve(
    sizes: np.ndarray,
    errors: np.ndarray,
    explained: np.ndarray,
    points: Sequence[tuple[str, int, float, str]],
    unit: str,
) -> str:
    """PCA's reconstruction error and explained variance against the code size, with the
    model's (and the checkpoint's PCA baseline's) error at its own code size."""
    fig = new_figure(9.0, 3.4)
    left, right = fig.subplots(1, 2)
    left.plot(sizes, errors, "-", color=PCA_COLOUR, label="PCA fitted to these rows")
    for name, k, value, colour in points:
        left.plot([k], [value], "o", color=colour, markersize=8, label=name)
    left.set_xlabel("code size (components)")
    left.set_ylabel(f"reconstruction MSE ({unit})")
    left.legend(frameon=False, fontsize=8)
    right.plot(sizes, 100 * explained, "-", color=PCA_COLOUR)
    right.set_ylim(0, 101)
    right.set_xlabel("code size (components)")
    right.set_ylabel("variance explained by PCA (%)")
    if points:
        right.axvline(points[0][1], color=MODEL_COLOUR, linestyle=":")
    return png_uri(fig)


def code_map(xy: np.ndarray, labels: Any, axis_names: tuple[str, str], title: str) -> str:
    """A 2-D map of codes: coloured by a categorical label (legend) or a numeric one (colour
    bar); without a label, a hexbin density for many points, else a scatter."""
    fig = new_figure(6.4, 5.0)
    ax = fig.add_subplot()
    size = 4 if len(xy) > 1000 else 12
    if labels is None:
        if len(xy) > 2000:
            hb = ax.hexbin(xy[:, 0], xy[:, 1], gridsize=40, cmap="viridis", mincnt=1)
            fig.colorbar(hb, ax=ax, label="rows")
        else:
            ax.scatter(xy[:, 0], xy[:, 1], s=size, color=MODEL_COLOUR, alpha=0.7)
    elif _is_numeric(labels):
        values = np.asarray(labels, dtype=np.float64)
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=values, s=size, cmap="viridis", alpha=0.8)
        fig.colorbar(sc, ax=ax, label=title)
    else:
        _categorical_scatter(ax, xy, [str(v) for v in labels], size)
    ax.set_xlabel(axis_names[0])
    ax.set_ylabel(axis_names[1])
    return png_uri(fig)


def _categorical_scatter(ax: Any, xy: np.ndarray, labels: list[str], size: int) -> None:
    values, counts = np.unique(labels, return_counts=True)
    order = [values[i] for i in np.argsort(-counts, kind="stable")]
    shown = sorted(order[:MAX_CATEGORIES], key=_natural)
    colours = _palette(len(shown))
    names = np.array(labels)
    for value, colour in zip(shown, colours, strict=True):
        rows = names == value
        ax.scatter(xy[rows, 0], xy[rows, 1], s=size, color=colour, alpha=0.8, label=value)
    rest = ~np.isin(names, shown)
    if rest.any():
        ax.scatter(xy[rest, 0], xy[rest, 1], s=size, color="#bbbbbb", alpha=0.6, label="other")
    ax.legend(frameon=False, fontsize=8, markerscale=2, loc="best")


def _natural(text: str) -> tuple[int, float, str]:
    """Numbers in numeric order before words in alphabetical order."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _palette(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def _is_numeric(labels: Any) -> bool:
    import pandas as pd

    series = pd.Series(labels)
    return bool(pd.api.types.is_numeric_dtype(series)) and series.nunique() > MAX_CATEGORIES


def histograms(
    columns: Sequence[str],
    real: Any,
    other: Any,
    other_name: str,
) -> str:
    """Real versus reconstructed (or sampled) values, one small panel per column."""
    n = len(columns)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig = new_figure(3.2 * cols, 2.5 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, name in zip(axes, columns, strict=False):
        a = np.asarray(real[name], dtype=np.float64)
        b = np.asarray(other[name], dtype=np.float64)
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        both = np.concatenate([a, b])
        edges = np.histogram_bin_edges(both, bins=30) if len(both) else 10
        ax.hist(a, bins=edges, color=REAL_COLOUR, alpha=0.45, label="real", density=True)
        ax.hist(
            b,
            bins=edges,
            histtype="step",
            color=MODEL_COLOUR,
            linewidth=1.6,
            label=other_name,
            density=True,
        )
        ax.set_title(_short(name), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes[n:]:
        ax.set_visible(False)
    axes[0].legend(frameon=False, fontsize=7)
    return png_uri(fig)


def correlations(names: Sequence[str], real: np.ndarray, sampled: np.ndarray) -> str:
    """Correlation matrices of the real and sampled rows side by side, and their difference."""
    fig = new_figure(11.0, 3.8)
    axes = fig.subplots(1, 3)
    ticks = len(names) <= 20
    for ax, matrix, title, cmap in (
        (axes[0], real, "real", "coolwarm"),
        (axes[1], sampled, "sampled", "coolwarm"),
        (axes[2], sampled - real, "sampled - real", "PuOr"),
    ):
        im = ax.imshow(matrix, vmin=-1, vmax=1, cmap=cmap)
        ax.set_title(title, fontsize=10)
        if ticks:
            short = [_short(n, 12) for n in names]
            ax.set_xticks(range(len(names)), short, rotation=90, fontsize=6)
            ax.set_yticks(range(len(names)), short if ax is axes[0] else [], fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return png_uri(fig)


def kl_per_dimension(kl: np.ndarray, active: np.ndarray) -> str:
    """A VAE's KL(q(z_j | x) || p(z_j)) per latent dimension; active units coloured."""
    fig = new_figure(max(4.0, min(10.0, 0.35 * len(kl) + 2)), 3.0)
    ax = fig.add_subplot()
    colours = [MODEL_COLOUR if a else "#bbbbbb" for a in active]
    ax.bar(np.arange(1, len(kl) + 1), kl, color=colours)
    ax.set_xticks(np.arange(1, len(kl) + 1, max(1, len(kl) // 16)))
    ax.set_xlabel("latent dimension (grey: inactive)")
    ax.set_ylabel("KL (nats per row)")
    return png_uri(fig)


def image_grid(rows: Sequence[Sequence[Any]], scale: int = 1, gap: int = 4) -> Any:
    """PIL images laid out row by row on a white sheet; tiny images are enlarged by `scale`."""
    from PIL import Image

    cells = [img for row in rows for img in row]
    w, h = cells[0].size
    w, h = w * scale, h * scale
    ncols = max(len(r) for r in rows)
    sheet = Image.new("RGB", (ncols * (w + gap) + gap, len(rows) * (h + gap) + gap), "white")
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            tile = img.convert("RGB").resize((w, h), Image.Resampling.NEAREST)
            sheet.paste(tile, (gap + j * (w + gap), gap + i * (h + gap)))
    return sheet


def _short(name: str, width: int = 18) -> str:
    name = str(name)
    return name if len(name) <= width else name[: width - 1] + "…"
