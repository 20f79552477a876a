"""Sample defaults chosen per data at training time, by a held-out criterion.

A table model generates a row by drawing a code z from a density fitted to the training codes
(or, for a VAE, from its prior N(0, I)), decoding it to E[x | z], adding observation noise to
the Gaussian columns and drawing every category and 0/1 flag from the decoder's probabilities.
The observation noise is the reconstruction residual vector x - E[x | z(x)] of a random training
row (of a seeded sample of at most 1,000 kept in the checkpoint): it keeps the residuals'
correlations across columns and their shape, where independent Gaussian noise of each column's
residual SD (the "independent" noise of older checkpoints) blurs them.

Which code density is chosen per data, by how well a classifier tells its rows from real rows
it was not fitted on (a classifier two-sample test, Lopez-Paz & Oquab 2017). The training rows
(a seeded sample of at most 1,500) are split in 3 parts; each candidate density is fitted on
the codes of two parts and draws as many rows as the third part and the validation rows (a
seeded sample of at most 500) hold, through the table's output and back (kept in range, whole
numbers whole); a random forest (`aecli.parts.two_sample`) tells those rows from the real
ones, and its out-of-bag ROC AUC (0.5: indistinguishable), averaged over the 3 parts, is the
score: every candidate's with 10-tree forests ("screened"), then that of the two best distinct
densities with their forests grown to 50 trees ("scores", which decide). Candidates of the
same density (BIC's 8 components and the 8-component mixture) are fitted and scored once.
Candidates: Gaussian mixtures with BIC's choice of components and with 4, 8, 16 and 32
components (where the two parts hold at least 8 codes per component: BIC, a likelihood
criterion, favours few components, but a decoder turns a coarse density into rows a classifier
tells apart), the variance-corrected kernel density (on a seeded sample of at most 512 of the
codes: its bandwidth search costs n^2), and for a VAE its prior.
`--code-density kde` or `--components` fixes the density (a VAE still chooses between it and
its prior). The winner is then fitted on all training codes, at T = 1 (the energy-distance
choice of a temperature in 0.8-1.5 that this replaces made rows easier to tell apart on every
table of bench_realism.py).

The winner is then scored once more with a marginal calibration (`aecli.parts.marginals`):
each Gaussian column's drawn values mapped through the quantiles of 4,000 rows it draws to the
quantiles of the training rows it was fitted on (order kept, so the joint structure is the
model's). The calibration is kept if it lowers the score (on bench_realism.py's cars table it
did, 0.63 -> 0.62, and the forest's AUC on held-out rows fell from 0.69 to 0.57; on penguins it
did not) and is then fitted on the training rows (a seeded sample of at most 20,000); a table
with a column of fewer than 50 training values is not calibrated. Rows are drawn stratified
(`aecli.sampling.STRATIFY`) in the choice as in `sample`.

The choice becomes what `sample` does by default (an explicit `--from` / `--temperature` still
wins, and draws as drawn: the calibration is for the chosen source at T = 1, and for labels
drawn with their training frequencies, not a fixed `--condition`); it is stored in the
checkpoint (history "sampling", extras "density" and "sampling.*") and shown by `inspect`. The
cost: 3 CPU-seconds for digits' 1,347 rows of 64 columns (11 when every candidate's forests had
100 trees). An image VAE chooses only between its prior and its codes' density, by the energy
distance (Szekely & Rizzo 2013) of 1,000 decoded images to the validation images, at T = 1
without noise; other image models keep the plain defaults."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch

from aecli.parts.density import fit_code_density, fit_mixtures, same_density
from aecli.parts.marginals import fit_quantile_map
from aecli.parts.two_sample import TREES, Forest, energy_distance
from aecli.sampling import (
    add_noise,
    codes_from,
    finish_rows,
    gaussian_slots,
    residual_sd,
    residuals,
)

if TYPE_CHECKING:
    from aecli.codec import Codec

MIXTURES = (4, 8, 16, 32)  # components tried beside BIC's choice
CODES_PER_COMPONENT = 8  # in the part a mixture is fitted on
FOLDS = 3
MAX_RESIDUALS = 1000  # training residual vectors kept for the "residuals" noise
DRAWS = 1000
MIN_VALIDATION_ROWS = 20
MIN_PART = 20  # training rows per part below which no density is chosen (BIC's is kept)
MAX_IMAGES = 2000  # validation images an image VAE's source is chosen on
MAX_ROWS = 500  # validation rows the choice looks at (a seeded sample beyond)
MAX_TRAINING_ROWS = 1500  # training rows it cross-fits on (a seeded sample beyond)
KDE_CODES = 512  # codes a candidate kernel density is fitted on (a seeded sample beyond)
SCREEN_TREES = 10  # per fold, for every candidate; the finalists' forests grow to TREES
FINALISTS = 2  # the best distinct densities by the screening, scored with TREES
CALIBRATE = True  # map each Gaussian column's generated values to the training quantiles
CALIBRATION_DRAWS = 4000  # generated rows the calibration's quantiles are taken from
MIN_CALIBRATION_ROWS = 50  # training values a column needs to be calibrated
MAX_CALIBRATION_ROWS = 20000  # training rows the calibration looks at (a seeded sample beyond)


def _kept_rows(n: int, limit: int, seed: int, stream: int) -> np.ndarray:
    """At most `limit` of n row indices: all of them, or a seeded sample (in order)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng([seed, stream]).choice(n, limit, replace=False))


def _candidates(model: Codec, n_codes: int) -> list[str]:
    """The densities to choose among (fitted on `n_codes` codes)."""
    opts = model.options
    fixed = opts.code_density != "gmm" or opts.components is not None
    out = ["codes"] if fixed else ["gmm"]
    if not fixed:
        out += [f"gmm{m}" for m in MIXTURES if n_codes >= CODES_PER_COMPONENT * m]
        out += ["kde"]
    return out + (["prior"] if model.variational else [])


def _fit_all(
    names: list[str], model: Codec, codes: np.ndarray, seed: int
) -> dict[str, dict[str, np.ndarray] | None]:
    """Each candidate density fitted on `codes` (None: the VAE's prior); the mixtures share
    their fits (BIC's choice among 1, 2, 4, 8, 16 components is one of those it tried)."""
    opts = model.options
    fixed = tuple(int(name[3:]) for name in names if name.startswith("gmm") and len(name) > 3)
    bic, mixtures = fit_mixtures(codes, seed, fixed, bic="gmm" in names)
    out: dict[str, dict[str, np.ndarray] | None] = {}
    for name in names:
        if name == "prior":
            out[name] = None
        elif name == "codes":
            out[name] = fit_code_density(codes, seed, opts.code_density, opts.components)
        elif name == "kde":  # on a seeded sample of the codes (its bandwidth search is n^2)
            kept = codes[_kept_rows(len(codes), KDE_CODES, seed, 12)]
            out[name] = fit_code_density(kept, seed, "kde")
        else:
            out[name] = bic if name == "gmm" else mixtures[int(name[3:])]
    return out


def _decode(
    model: Codec, density: dict[str, np.ndarray] | None, n: int, y: np.ndarray | None, seed: int
) -> np.ndarray:
    """n decoded means E[x | z], codes from `density` (None: the VAE's prior) at T = 1."""
    z = codes_from(density, n, model.latent_dim, torch.Generator().manual_seed(seed))
    return model.apply(model._decode_mean, z.numpy(), width=model.n_features, y=y)


def fit_calibration(
    model: Codec,
    density: dict[str, np.ndarray] | None,
    real: tuple[np.ndarray, np.ndarray | None],
    extras: dict[str, np.ndarray],
    noise: str,
    seed: int,
) -> dict[str, np.ndarray]:
    """The quantile map (`aecli.parts.marginals`) from CALIBRATION_DRAWS rows drawn as `sample`
    draws them to the `real` rows' Gaussian columns."""
    x_real, y_real = real
    rng = np.random.default_rng([seed, 10])
    y = None if y_real is None else y_real[rng.integers(0, len(y_real), CALIBRATION_DRAWS)]
    x = _decode(model, density, CALIBRATION_DRAWS, y, seed + 7919)
    generated = add_noise(x, extras, seed + 7919, noise)
    return fit_quantile_map(generated, x_real, gaussian_slots(model))


def _generate(
    model: Codec,
    density: dict[str, np.ndarray] | None,
    n: int,
    y: np.ndarray | None,
    extras: dict[str, np.ndarray],
    noise: str,
    seed: int,
    calibration: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """n model-space rows drawn as `sample` draws them (`finish_rows`), at T = 1, through the
    table's output (kept in range, whole numbers whole, decimals kept) and back, so that they
    differ from real rows only where sampled rows do."""
    x = finish_rows(model, _decode(model, density, n, y, seed), seed, noise, extras, calibration)
    table = model.adapter
    return table.to_array(table.from_array(x, clip=True))  # type: ignore[attr-defined]


class _Fold(NamedTuple):
    """One of the cross-fitting folds: the training rows the candidates are fitted on, the rows
    their draws are told from (the held-out part and the validation rows) and each candidate's
    density (None: the prior), candidates of the same density sharing one name."""

    fit: tuple[np.ndarray, np.ndarray | None]
    real: tuple[np.ndarray, np.ndarray | None]
    densities: dict[str, dict[str, np.ndarray] | None]
    same: dict[str, str]  # candidate -> the first candidate of the same density


def _fold(
    model: Codec,
    names: list[str],
    train: tuple[np.ndarray, np.ndarray | None],
    parts: list[np.ndarray],
    fold: int,
    val: tuple[np.ndarray, np.ndarray | None],
    seed: int,
) -> _Fold:
    """Fold `fold` of the cross-fitting, with the densities of the candidates `names`."""
    (x_train, y_train), (x_val, y_val) = train, val
    fit_part = np.concatenate([p for i, p in enumerate(parts) if i != fold])
    y_fit = None if y_train is None else y_train[fit_part]
    own = model.apply(model.net.encode, x_train[fit_part], width=model.latent_dim, y=y_fit)
    densities = _fit_all(names, model, own, seed)
    like = densities.get
    same = {name: next(n for n in names if same_density(like(n), like(name))) for name in names}
    real = np.vstack([x_train[parts[fold]], x_val])
    y = None if y_train is None else np.vstack([y_train[parts[fold]], y_val])
    return _Fold((x_train[fit_part], y_fit), (real, y), densities, same)


def choose_sampling(
    model: Codec,
    codes: np.ndarray,
    train: tuple[np.ndarray, np.ndarray | None],
    val: tuple[np.ndarray, np.ndarray | None],
    seed: int,
) -> None:
    """Score the candidates on rows they were not fitted on; store the winner in `model`, with
    the marginal calibration of what it draws."""
    x_val, y_val = val
    present = ~np.isnan(x_val).any(axis=1)
    x_val = x_val[present]
    if model.is_image:
        if model.variational and len(x_val) >= MIN_VALIDATION_ROWS:
            choose_image_source(model, x_val[:MAX_IMAGES], seed)
        return
    y_val = None if y_val is None else y_val[present]
    x_train, y_train = train
    extras, noise = _noise(model, x_train, y_train, seed)
    chosen: dict[str, Any] = {"source": "codes", "temperature": 1.0, "noise": noise}
    rows = _kept_rows(len(x_train), MAX_TRAINING_ROWS, seed, 8)
    rows = rows[~np.isnan(x_train[rows]).any(axis=1)]
    parts = np.array_split(np.random.default_rng([seed, 9]).permutation(rows), FOLDS)
    names = _candidates(model, len(rows) - len(parts[0]))
    calibrated = _calibrates(model, x_train)
    if min(len(p) for p in parts) < MIN_PART or (len(names) == 1 and not calibrated):
        fitted = len(model.extras["density"]["weights"])
        chosen["density"] = _density_words(model, "codes", fitted)
        _calibrate(model, chosen, train, seed, False)  # nothing to choose, or too few rows
        return
    v = _kept_rows(len(x_val), MAX_ROWS, seed, 5)
    x_val, y_val = x_val[v], None if y_val is None else y_val[v]
    fold = partial(_fold, model, train=train, parts=parts, val=(x_val, y_val), seed=seed)
    folds = [fold(names, fold=i) for i in range(FOLDS)]
    args = (extras, noise, seed, {})
    screened, scores = _rank(model, names, folds, args)
    best = min(scores, key=lambda name: scores[name])
    if calibrated:  # the winner once more, its drawn marginals mapped to the training ones
        scores[f"{best} calibrated"] = _score(model, best, folds, *args, calibrate=True)
        calibrated = scores[f"{best} calibrated"] < scores[best]
    if best == "prior":
        chosen["source"] = "prior"
    else:
        fitted = len(model.extras["density"]["weights"])
        if best != "gmm" and best != "codes" and best != f"gmm{fitted}":  # else BIC's fit
            model.extras["density"] = _fit_all([best], model, codes, seed)[best]
        fitted = len(model.extras["density"]["weights"])
        chosen["density"] = _density_words(model, best, fitted)
    n_real = len(parts[-1]) + len(x_val)
    chosen |= {
        "criterion": (
            f"random-forest two-sample AUC against {n_real} rows not fitted on "
            f"(training rows cross-fitted in 3 parts, {len(x_val)} validation rows)"
        ),
        "score": scores[f"{best} calibrated" if calibrated else best],
        "scores": scores,
    }
    if len(scores) < len(names):
        chosen["screened"] = screened
    _calibrate(model, chosen, train, seed, calibrated)


def _rank(
    model: Codec, names: list[str], folds: list[_Fold], args: tuple[Any, ...]
) -> tuple[dict[str, float], dict[str, float]]:
    """Every candidate's score with forests of SCREEN_TREES trees ("screened"), and that of
    each candidate of the FINALISTS best distinct densities, their forests grown to TREES."""
    forests = args[-1]
    screened = {name: _score(model, name, folds, *args, trees=SCREEN_TREES) for name in names}
    same = {name: tuple(part.same[name] for part in folds) for name in names}
    first = {same[name]: name for name in reversed(names)}  # each density's first candidate
    ranked = sorted((name for name in names if first[same[name]] == name), key=screened.get)
    distinct = {same[name] for name in ranked[:FINALISTS]}  # sorted: ties in candidate order
    finalists = [name for name in names if same[name] in distinct]
    kept = {part.same[name] for part in folds for name in finalists}
    for key in [key for key in forests if key[1] not in kept]:
        del forests[key]  # the screened-out forests' rows
    return screened, {name: _score(model, name, folds, *args) for name in finalists}


def _noise(
    model: Codec, x_train: np.ndarray, y_train: np.ndarray | None, seed: int
) -> tuple[dict[str, np.ndarray], str]:
    """The observation noise's arrays (kept in `model.extras["sampling"]`) and its name."""
    kept = _kept_rows(len(x_train), MAX_RESIDUALS, seed, 7)
    resid = residuals(model, x_train[kept], None if y_train is None else y_train[kept])
    complete = resid[~np.isnan(resid).any(axis=1)]  # rows with every cell present
    noise = "residuals" if len(complete) >= MIN_VALIDATION_ROWS else "independent"
    extras = {"residual_sd": residual_sd(resid)}
    if noise == "residuals":
        extras["residuals"] = complete
    model.extras["sampling"] = extras
    return extras, noise


def _score(
    model: Codec,
    name: str,
    folds: list[_Fold],
    extras: dict[str, np.ndarray],
    noise: str,
    seed: int,
    forests: dict[tuple[int, str, bool], Forest],
    calibrate: bool = False,
    trees: int | None = None,
) -> float:
    """A candidate density's two-sample AUC (forests of `trees` trees, by default TREES),
    averaged over the folds: fitted (and with `calibrate` its marginal calibration) on two parts
    of the training rows, tested against the third and the validation rows. `forests` keeps each
    fold's forest of each density, to be grown further (a candidate of the same density as one
    scored before draws no rows of its own)."""
    aucs = []
    for fold, part in enumerate(folds):
        key = (fold, part.same[name], calibrate)
        if key not in forests:
            density = part.densities[name]
            fitting = (model, density, part.fit, extras, noise, seed + fold)
            calibration = fit_calibration(*fitting) if calibrate else None
            (real, y) = part.real
            fake = _generate(model, density, len(real), y, extras, noise, seed + fold, calibration)
            forests[key] = Forest(real, fake, seed)
        aucs.append(forests[key].auc(trees or TREES))
    return round(float(np.mean(aucs)), 4)


def _calibrates(model: Codec, x_train: np.ndarray) -> bool:
    """Whether the model's drawn marginals can be calibrated: it has Gaussian columns and each
    has at least MIN_CALIBRATION_ROWS training values."""
    columns = gaussian_slots(model)
    counts = np.isfinite(x_train).sum(axis=0)[columns]
    return CALIBRATE and bool(columns.any()) and int(counts.min()) >= MIN_CALIBRATION_ROWS


def _calibrate(
    model: Codec,
    chosen: dict[str, Any],
    train: tuple[np.ndarray, np.ndarray | None],
    seed: int,
    calibrate: bool,
) -> None:
    """Store the choice and, with `calibrate`, the marginal calibration of the rows it draws
    (fitted on the training rows: a seeded sample of at most MAX_CALIBRATION_ROWS)."""
    chosen["marginals"] = "as drawn"
    model.history["sampling"] = chosen
    if not calibrate:
        return
    extras = model.extras["sampling"]
    density = None if chosen["source"] == "prior" else model.extras["density"]
    kept = _kept_rows(len(train[0]), MAX_CALIBRATION_ROWS, seed, 11)
    rows = (train[0][kept], None if train[1] is None else train[1][kept])
    extras |= fit_calibration(model, density, rows, extras, chosen["noise"], seed)
    chosen["marginals"] = "calibrated"


def _density_words(model: Codec, name: str, fitted: int) -> str:
    """The chosen code density in words: 'kde' or 'gmm, M components'."""
    method = "kde" if name == "kde" else model.options.code_density if name == "codes" else "gmm"
    return "kde" if method == "kde" else f"gmm, {fitted} component{'s' if fitted > 1 else ''}"


def choose_image_source(model: Codec, x_val: np.ndarray, seed: int) -> None:
    """An image VAE: its prior or the density of its training codes, whichever draws images
    closer to the validation images (energy distance, T = 1). After a short training the prior
    often decodes to blurred blends while the codes' density gives clear images."""
    scores: dict[str, float] = {}
    for source in ("prior", "codes"):
        gen = torch.Generator().manual_seed(seed)
        density = None if source == "prior" else model.extras["density"]
        z = codes_from(density, DRAWS, model.latent_dim, gen, stratified=False)
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
