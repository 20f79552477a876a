"""The report's parts for image models: originals above their reconstructions, a grid of
samples, and where in the image the model and PCA make their errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

import aecli.report.figures as fg
from aecli.report.page import Section, figure

if TYPE_CHECKING:
    from aecli.model import Model
    from aecli.report.collect import Evidence

PAIRS_PER_ROW = 10
PAIR_ROWS = 2
SAMPLE_ROWS, SAMPLE_COLUMNS = 3, 10


def _scale(model: Model) -> int:
    """Enlarge small images so that a tile is at least about 64 pixels high."""
    return max(1, 64 // max(1, model.adapter.image_shape[1]))  # type: ignore[index]


def reconstructions(model: Model, ev: Evidence) -> Section:
    n = min(ev.rows, PAIRS_PER_ROW * PAIR_ROWS)
    originals = model.adapter.to_images(ev.x[:n])  # type: ignore[attr-defined]
    recons = model.adapter.to_images(ev.recon[:n])  # type: ignore[attr-defined]
    rows = []
    for start in range(0, n, PAIRS_PER_ROW):
        rows.append(originals[start : start + PAIRS_PER_ROW])
        rows.append(recons[start : start + PAIRS_PER_ROW])
    sheet = fg.image_grid(rows, scale=_scale(model))
    caption = (
        f"{n} images (rows 1 and 3) above their reconstructions (rows 2 and 4)"
        if n > PAIRS_PER_ROW
        else f"{n} images (top) above their reconstructions (bottom)"
    )
    return Section(
        "reconstructions",
        "Originals and reconstructions",
        figure(fg.image_uri(sheet), caption + ".", "originals and reconstructions"),
    )


def samples(model: Model, seed: int = 0) -> Section:
    n = SAMPLE_ROWS * SAMPLE_COLUMNS
    images = model.sample_images(n, seed=seed)
    rows = [images[i : i + SAMPLE_COLUMNS] for i in range(0, n, SAMPLE_COLUMNS)]
    source = (
        "the prior N(0, I)" if model.variational else "the density fitted to the training codes"
    )
    sheet = fg.image_grid(rows, scale=_scale(model))
    caption = f"{n} images decoded from codes drawn from {source} (seed {seed})."
    return Section("samples", "Samples", figure(fg.image_uri(sheet), caption, "sampled images"))


def error_maps(model: Model, ev: Evidence) -> str:
    """Mean squared error per pixel position of the model and of PCA, side by side."""
    c, h, w = model.adapter.image_shape  # type: ignore[misc]
    maps = [((ev.recon - ev.x) ** 2).reshape(-1, c, h, w).mean(axis=(0, 1))]
    names = ["this model"]
    pca = model.extras.get("pca")
    if pca is not None:
        centred = ev.x - pca["mean"]
        pca_recon = pca["mean"] + centred @ pca["axes"] @ pca["axes"].T
        maps.append(((pca_recon - ev.x) ** 2).reshape(-1, c, h, w).mean(axis=(0, 1)))
        names.append(f"PCA, {model.latent_dim} components")
    fig = fg.new_figure(3.4 * len(maps) + 0.8, 3.2)
    axes = np.atleast_1d(fig.subplots(1, len(maps)))
    top = max(float(m.max()) for m in maps) or 1.0
    for ax, m, name in zip(axes, maps, names, strict=True):
        im = ax.imshow(m, cmap="magma", vmin=0, vmax=top)
        ax.set_title(f"{name}: mean {m.mean():.4f}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=list(axes), shrink=0.85, label="MSE per pixel")
    return figure(
        fg.png_uri(fig),
        "Where the errors are: mean squared error at each pixel "
        "position over the images shown, the model beside PCA.",
    )
