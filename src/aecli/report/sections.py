"""The report's sections that every model has: overview, training, the PCA baseline, the map of
the codes, and what the model was trained with. Table- and image-only parts are in
`tables.py` and `images.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

import aecli.report.figures as fg
from aecli.report.page import Section, figure, fmt, grid, key_values, paragraph
from aecli.results import ACTIVE_VARIANCE

if TYPE_CHECKING:
    from aecli.model import Model
    from aecli.report.collect import Evidence


def overview(model: Model, ev: Evidence | None, name: str) -> Section:
    arch = model.architecture
    shape = f"{arch.n_features} inputs -> {list(arch.hidden)} -> {arch.latent_dim} codes"
    pairs: list[tuple[str, Any]] = [
        ("model", name),
        ("kind", model.kind + (" (variational)" if model.variational else "")),
        ("architecture", shape),
        ("parameters", f"{arch.parameter_count():,}"),
    ]
    body = ""
    if ev is None:
        body = paragraph(
            "No data given: the figures below come from the checkpoint alone. Give DATA to see "
            "codes, reconstructions, samples and the PCA comparison.",
            "note",
        )
    else:
        shown = f"{ev.rows} {model.adapter.noun}"
        if ev.rows < ev.total_rows:
            shown += f" (a random sample of {ev.total_rows})"
        pairs += [("data", ev.source), ("rows shown", shown)]
        f = ev.figures
        unit = f.mse_units
        pairs.append((f"reconstruction MSE ({unit})", f.model_mse))
        if f.pca_mse is not None:
            pairs.append((f"PCA with {model.latent_dim} components, same rows", f.pca_mse))
        if f.elbo is not None:
            per = "image" if f.data == "images" else "row"
            pairs.append((f"ELBO (nats per {per})", f.elbo))
            pairs.append((f"log p(x), IWAE K={f.importance_samples}", f.iwae_log_likelihood))
        body = "".join(paragraph(f"note: {n}", "note") for n in [*f.notes, *ev.notes])
    return Section("overview", "Overview", key_values(pairs) + body)


def training(model: Model, ev: Evidence | None) -> Section:
    h = model.history
    facts = [
        ("epochs", f"{h.get('epochs_run')} run of {h.get('epochs_planned')} planned"),
        ("best epoch", h.get("best_epoch")),
        ("stopped early", h.get("stopped_early")),
    ]
    if h.get("seconds") is not None:
        facts.append(("training time", f"{h['seconds']:.1f} s"))
    monitor = h.get("monitor", "validation")
    caption = (
        f"Loss per epoch on the training rows and on the {monitor} rows (the objective the model "
        "minimises); the dot marks the best epoch, whose weights were kept."
    )
    if any("val_kl" in r for r in h.get("records", [])):
        beta = model.options.beta if model.options.beta is not None else 1.0
        caption += (
            f" For this VAE the {monitor} loss is -ELBO = reconstruction + beta KL (beta "
            f"{beta:g}); the other panels show the two terms on the {monitor} rows."
        )
    elif model.variational:
        caption += " (This checkpoint predates the per-epoch record of the VAE's two terms.)"
    body = figure(fg.loss_curve(h), caption) + key_values(facts)
    if model.variational:
        body += _kl_section(model, ev)
    return Section("training", "Training", body)


def _kl_section(model: Model, ev: Evidence | None) -> str:
    """KL per latent dimension of a VAE and its active units (Burda et al., 2016): on the rows
    shown, or without data on the rows training monitored, as the checkpoint records them."""
    k = model.latent_dim
    if ev is not None:

        def posterior(x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
            mu, logvar = model.net.encode_dist(x, y)
            return torch.cat([mu, logvar], dim=1)

        both = model.apply(posterior, ev.x, width=2 * k, y=ev.y).astype(np.float64)
        mu, logvar = both[:, :k], both[:, k:]
        kl = 0.5 * (mu**2 + np.exp(logvar) - 1.0 - logvar).mean(axis=0)
        active = mu.var(axis=0) > ACTIVE_VARIANCE
        rows = "the rows shown"
    elif model.history.get("latent"):
        latent = model.history["latent"]
        kl = np.asarray(latent["kl"], dtype=np.float64)
        active = np.asarray(latent["mean_variance"], dtype=np.float64) > ACTIVE_VARIANCE
        rows = f"the {model.history.get('monitor', 'validation')} rows at the best epoch"
    else:
        return ""
    caption = (
        f"KL divergence of q(z_j | x) from the prior N(0, 1), per latent dimension, averaged "
        f"over {rows} (total {kl.sum():.3f} nats per row). {int(active.sum())} of {k} "
        f"units are active (their posterior mean varies across rows by more than "
        f"{ACTIVE_VARIANCE}); inactive units carry no information about x."
    )
    return "<h3>KL per latent dimension</h3>" + figure(fg.kl_per_dimension(kl, active), caption)


def baseline(model: Model, ev: Evidence) -> Section:
    """The model beside PCA: per feature, and PCA's error against the code size."""
    parts = []
    feats = {f.name: f for f in model.adapter.features()}
    numeric = [f for f in ev.figures.per_feature if f.measure == "mse"]
    categorical = [f for f in ev.figures.per_feature if f.measure == "accuracy"]
    if numeric:
        std = sorted(
            ((f.column, f.model / feats[f.column].scale ** 2, _std_pca(f, feats)) for f in numeric),
            key=lambda t: -t[1],
        )[:20]
        has_pca = all(t[2] is not None for t in std)
        uri = fg.bars(
            [t[0] for t in std],
            [t[1] for t in std],
            [t[2] for t in std] if has_pca else None,
            "MSE (standardised units)",
        )
        parts.append(
            figure(
                uri,
                "Reconstruction error per numeric column, worst first "
                "(in standardised units, so columns compare).",
            )
        )
    if categorical:
        ordered = sorted(categorical, key=lambda f: f.model)[:20]
        has_pca = all(f.pca is not None for f in ordered)
        uri = fg.bars(
            [f.column for f in ordered],
            [1 - f.model for f in ordered],
            [1 - f.pca for f in ordered] if has_pca else None,  # type: ignore[operator]
            "error rate (most likely label)",
        )
        parts.append(
            figure(
                uri,
                "Categorical columns: share of rows whose most likely "
                "reconstructed label is wrong, worst first.",
            )
        )
    if model.is_image:
        from aecli.report.images import error_maps

        parts.append(error_maps(model, ev))
    curve = _pca_curve(model, ev)
    if curve:
        parts.append(curve)
    return Section("baseline", "Beside PCA", "".join(parts))


def _std_pca(f: Any, feats: dict[str, Any]) -> float | None:
    return None if f.pca is None else f.pca / feats[f.column].scale ** 2


def _pca_curve(model: Model, ev: Evidence) -> str:
    from sklearn.decomposition import PCA

    x = ev.x.astype(np.float64)
    means = np.nan_to_num(np.nanmean(x, axis=0)) if np.isnan(x).any() else x.mean(axis=0)
    x = np.where(np.isnan(x), means, x)
    n, d = x.shape
    k_model = model.latent_dim
    k_max = min(max(3 * k_model, 20), d, n - 1)
    if k_max < 1:
        return ""
    pca = PCA(n_components=k_max, random_state=0).fit(x)
    total = x.var(axis=0, ddof=1).sum()
    kept = np.concatenate([[0.0], np.cumsum(pca.explained_variance_)])
    errors = (total - kept) * (n - 1) / n / d
    explained = kept / total if total > 0 else np.zeros_like(kept)
    f = ev.figures
    points = [(f"this model ({k_model} codes)", k_model, f.model_mse, fg.MODEL_COLOUR)]
    if f.pca_mse is not None:
        points.append(("PCA fitted to the training rows", k_model, f.pca_mse, "#2ca02c"))
    uri = fg.pca_curve(np.arange(k_max + 1), errors, explained, points, f.mse_units)
    caption = (
        "Left: PCA's reconstruction error on these rows as a function of the code size (PCA fitted "
        "to these very rows, so slightly optimistic), with the model's error at its own code size; "
        "a model below the curve does better than any linear code of its size. Right: the "
        "variance PCA explains."
    )
    return figure(uri, caption)


def codes(model: Model, ev: Evidence) -> Section:
    """The map of the codes, coloured by the label."""
    z = ev.codes.astype(np.float64)
    k = z.shape[1]
    if k == 1:
        jitter = np.random.default_rng(0).uniform(-1, 1, len(z))
        xy, axes, how = np.column_stack([z[:, 0], jitter]), ("z1", "(random jitter)"), "the code"
    elif k == 2:
        xy, axes, how = z, ("z1", "z2"), "the two codes"
    else:
        from sklearn.decomposition import PCA

        pca = PCA(n_components=2, random_state=0).fit(z)
        xy = pca.transform(z)
        share = 100 * pca.explained_variance_ratio_
        axes = (f"PC1 of the codes ({share[0]:.0f}%)", f"PC2 of the codes ({share[1]:.0f}%)")
        how = f"the first two principal components of the {k} codes"
    title = ev.label_name or ""
    uri = fg.code_map(xy, ev.labels, axes, title)
    coloured = f", coloured by {ev.label_name}" if ev.label_name else ""
    caption = f"The codes of the {ev.rows} {model.adapter.noun} shown: {how}{coloured}."
    return Section("codes", "Map of the codes", figure(uri, caption))


def provenance(model: Model) -> Section:
    """The options, schema and data fingerprint the model was trained with."""
    opts = model.options.to_dict()
    body = "<h3>Training options</h3>" + key_values(sorted(opts.items()))
    schema = model.adapter.to_dict()
    if schema.get("type") == "images":
        pairs = [(k, v) for k, v in schema.items() if k != "type"]
        body += "<h3>Data: images</h3>" + key_values(pairs)
    else:
        rows = []
        for c in schema.get("columns", []):
            cats = c.get("categories")
            kind = f"categorical ({len(cats)} labels)" if cats else c.get("dtype", "")
            rows.append(
                [c["name"], kind, *(c.get(s) if not cats else "" for s in ("mean", "scale"))]
            )
        body += "<h3>Data schema</h3>" + grid(["column", "type", "mean", "scale"], rows)
        for key in ("dropped", "ids"):
            if schema.get(key):
                body += paragraph(f"{key}: {fmt(schema[key])}")
    sha = model.history.get("data_sha256")
    if sha:
        body += "<h3>Data fingerprint</h3>" + paragraph(
            f"SHA-256 of the training rows in model space: {sha}"
        )
    metrics = model.metrics or {}
    if metrics:
        body += "<h3>Metrics kept in the checkpoint</h3>" + key_values(metrics.items())
    return Section("provenance", "Trained with", body)
