"""Sample defaults chosen per data at training time, by a held-out criterion.

After training, candidate ways of drawing rows are scored by how close their rows come to the
validation rows, which the model never trained on: the energy distance (Szekely & Rizzo 2013)
between 1,000 generated rows and the validation rows (a seeded sample of at most 2,000 of
them, so that memory and time do not grow with the data), in model space (standardised
numbers, one-hot categories), with the same random draws for every candidate. Candidates:

- the code density: the BIC-chosen Gaussian mixture and the variance-corrected kernel density
  (only the one asked for when `--code-density kde` or `--components` was given), and for a VAE
  also its prior N(0, I);
- the temperature T scaling the codes' spread: 0.8, 0.9, 1, 1.1, 1.25, 1.5;
- with or without observation noise: each Gaussian column's training reconstruction residual
  SD added as independent noise (a decoder's mean E[x | z] alone is narrower than the data).

The winner becomes what `sample` does by default (an explicit `--from` / `--temperature` still
wins); it is stored in the checkpoint (history "sampling", extras "sampling.residual_sd") and
shown by `inspect`. An image VAE chooses only between its prior and its codes' density, at
T = 1 without noise; other image models keep the plain defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from aecli.parts.density import fit_code_density, sample_mixture
from aecli.sampling import draw_discrete

if TYPE_CHECKING:
    from aecli.codec import Codec

TEMPERATURES = (0.8, 0.9, 1.0, 1.1, 1.25, 1.5)
DRAWS = 1000
MIN_VALIDATION_ROWS = 20
MAX_IMAGES = 2000  # validation images an image VAE's source is chosen on
MAX_ROWS = 2000  # validation rows the energy distance compares with (a seeded sample beyond)


def energy_distance(a: np.ndarray, b: np.ndarray, bb: float | None = None) -> float:
    """The (V-statistic) energy distance 2 E|A - B| - E|A - A'| - E|B - B'|; `bb`: E|B - B'|
    when already known (it is the same for every candidate)."""
    ta, tb = torch.from_numpy(a).double(), torch.from_numpy(b).double()
    ab = torch.cdist(ta, tb).mean()
    within = float(torch.cdist(tb, tb).mean()) if bb is None else bb
    return float(2 * ab - torch.cdist(ta, ta).mean()) - within


def _validation_sample(
    x: np.ndarray, y: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """At most MAX_ROWS of the validation rows (seeded, in order): the pairwise distances grow
    with the square of their number."""
    if len(x) <= MAX_ROWS:
        return x, y
    keep = np.sort(np.random.default_rng([seed, 5]).choice(len(x), MAX_ROWS, replace=False))
    return x[keep], None if y is None else y[keep]


def residual_sd(model: Codec, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    """Per slot: the SD of the training reconstruction residuals of Gaussian columns, else 0."""
    recon = model.reconstruct_array(x, y)
    sd = np.sqrt(np.nanmean((recon - x) ** 2, axis=0))
    gaussian = np.zeros(x.shape[1], dtype=bool)
    for start, kind in zip(model.likelihood.starts.tolist(), model.likelihood.kinds, strict=True):
        gaussian[start] = kind == "gaussian"
    return np.where(gaussian & np.isfinite(sd), sd, 0.0).astype(np.float32)


def add_noise(x: np.ndarray, sd: np.ndarray, seed: int) -> np.ndarray:
    """x plus independent Gaussian noise of `sd` per slot (a seeded stream of its own)."""
    rng = np.random.default_rng([seed, 2])
    return (x + sd * rng.standard_normal(x.shape)).astype(np.float32)


def _densities(model: Codec, codes: np.ndarray, seed: int) -> dict[str, dict[str, np.ndarray]]:
    opts = model.options
    out = {"codes": model.extras["density"]}
    if opts.code_density == "gmm" and opts.components is None and len(codes) > codes.shape[1] + 1:
        out["codes-kde"] = fit_code_density(codes, seed, "kde")
    return out


def choose_sampling(
    model: Codec,
    codes: np.ndarray,
    train: tuple[np.ndarray, np.ndarray | None],
    val: tuple[np.ndarray, np.ndarray | None],
    seed: int,
) -> None:
    """Score the candidates on the validation rows; store the winner in `model`."""
    x_val, y_val = val
    present = ~np.isnan(x_val).any(axis=1)
    x_val = x_val[present]
    if len(x_val) < MIN_VALIDATION_ROWS:
        return
    if model.is_image:
        if model.variational:
            choose_image_source(model, x_val[:MAX_IMAGES], seed)
        return
    sd = residual_sd(model, *train)
    x_val, y_val = _validation_sample(x_val, None if y_val is None else y_val[present], seed)
    y_gen = None if y_val is None else y_val[np.arange(DRAWS) % len(x_val)]
    t_val = torch.from_numpy(x_val).double()
    within = float(torch.cdist(t_val, t_val).mean())
    del t_val
    densities = _densities(model, codes, seed)
    scores: dict[str, float] = {}
    best: tuple[float, dict[str, Any]] | None = None
    sources = [*densities, *(["prior"] if model.variational else [])]
    for source in sources:
        for t in TEMPERATURES:
            gen = torch.Generator().manual_seed(seed)
            if source == "prior":
                z = t * torch.randn(DRAWS, model.latent_dim, generator=gen)
            else:
                density = {k: torch.from_numpy(v) for k, v in densities[source].items()}
                z = sample_mixture(density, DRAWS, gen, t)
            x = model.apply(model._decode_mean, z.numpy(), width=model.n_features, y=y_gen)
            for noise in (False, True):
                rows = draw_discrete(model, add_noise(x, sd, seed) if noise else x, seed)
                score = energy_distance(rows, x_val, within)
                scores[f"{source} T={t:g}{' +noise' if noise else ''}"] = round(score, 5)
                if best is None or score < best[0]:
                    best = (score, {"source": source, "temperature": t, "noise": noise})
    assert best is not None
    chosen = best[1]
    if chosen["source"] == "codes-kde":
        model.extras["density"] = densities["codes-kde"]
        chosen["source"] = "codes"
        chosen["density"] = "kde"
    elif chosen["source"] == "codes":
        chosen["density"] = model.options.code_density
    model.extras["sampling"] = {"residual_sd": sd}
    model.history["sampling"] = {
        **chosen,
        "criterion": f"energy distance to {len(x_val)} validation rows ({DRAWS} drawn)",
        "score": round(best[0], 5),
        "scores": scores,
    }


def choose_image_source(model: Codec, x_val: np.ndarray, seed: int) -> None:
    """An image VAE: its prior or the density of its training codes, whichever draws images
    closer to the validation images (energy distance, T = 1). After a short training the prior
    often decodes to blurred blends while the codes' density gives clear images."""
    scores: dict[str, float] = {}
    for source in ("prior", "codes"):
        gen = torch.Generator().manual_seed(seed)
        if source == "prior":
            z = torch.randn(DRAWS, model.latent_dim, generator=gen)
        else:
            density = {k: torch.from_numpy(v) for k, v in model.extras["density"].items()}
            z = sample_mixture(density, DRAWS, gen, 1.0)
        x = model.apply(model._decode_mean, z.numpy(), width=model.n_features)
        scores[source] = round(energy_distance(x, x_val), 5)
    best = min(scores, key=lambda name: scores[name])
    model.history["sampling"] = {
        "source": best,
        "temperature": 1.0,
        "noise": False,
        "criterion": f"energy distance to {len(x_val)} validation images ({DRAWS} drawn)",
        "score": scores[best],
        "scores": scores,
    }
