"""Human-readable summaries: the end-of-training report and `inspect`'s tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aecli.results import EvaluationFigures, TrainingSummary


def train_summary(s: TrainingSummary, data: str) -> str:
    """A few lines for stderr after `train`: sizes in the user's columns, steps, errors, and
    the comparison with PCA (only where PCA's error is a meaningful baseline)."""
    m = s.metrics
    if s.data == "images":
        sizes = f"{m.rows_train} training images, {m.rows_val} validation images, "
        sizes += f"{s.columns} pixels each -> {s.latent_dim} codes"
    else:
        sizes = f"{m.rows_train} training rows, {m.rows_val} validation rows, {s.columns} columns"
        if s.model_width != s.columns:
            sizes += f" ({s.model_width} model inputs with categories one-hot)"
        sizes += f" -> {s.latent_dim} codes"
    stop = f", stopped early (best epoch {s.best_epoch})" if s.stopped_early else ""
    unit = "pixels in [0, 1]" if s.data == "images" else "standardised units"
    if m.rows_val:
        errors = f"reconstruction MSE ({unit}): train {m.train_mse:.4f}, validation {m.val_mse:.4f}"
    else:
        errors = f"reconstruction MSE ({unit}) on the training rows (none held out): "
        errors += f"{m.train_mse:.4f}"
    lines = [
        f"trained {s.kind} on {data}: {sizes}",
        f"epochs: {s.epochs_run} run ({s.steps_run} optimiser steps){stop}, "
        f"best weights from epoch {s.best_epoch}",
        errors,
        f"PCA with {s.latent_dim} components on the same {m.split} rows: "
        f"{m.pca_val_mse:.4f}{_versus_pca(m.ratio_to_pca)}",
    ]
    if m.baseline == "input":  # a denoiser: compared with leaving its input unchanged
        lines[0] = f"trained {s.kind} on {data}: {m.rows_train} fresh training crops an epoch, "
        lines[0] += f"{m.rows_val} fixed validation crops"
        lines[2] = errors.replace("reconstruction", "denoising")
        lines[3] = f"the unchanged input on the same {m.split} crops: {m.pca_val_mse:.4f}"
        if m.ratio_to_pca is not None:
            lines[3] += f"; this model's error is {m.ratio_to_pca:.3f}x the input's"
    from aecli.results import score_line

    scores = s.scores or {}
    unit = "images" if s.data == "images" else "rows"
    line = score_line(scores, f"{scores.get('split', 'validation')} {unit}")
    lines += [line] if line else []
    lines += [f"note: {note}" for note in s.notes]
    lines.append(f"saved {s.output} in {s.seconds:.1f} s")
    return "\n".join(lines)


def _versus_pca(ratio: float | None) -> str:
    if ratio is None:
        return ""
    if ratio <= 1:
        return f"; this model's error is {100 * (1 - ratio):.1f}% lower ({ratio:.2f}x PCA)"
    if ratio > 100:
        return f"; this model's error is {ratio:.0f}x PCA's"
    return f"; this model's error is {100 * (ratio - 1):.1f}% higher ({ratio:.2f}x PCA)"


def _architecture_text(arch: dict[str, Any], parameters: int) -> str:
    residual = arch.get("residual")
    if residual:  # a denoiser: no bottleneck
        return (
            f"residual denoiser: {residual['blocks']} blocks of {residual['channels']} channels "
            f"on {residual['scale']}x{residual['scale']} pixel blocks, colour "
            f"{residual['colour']}; {parameters:,} parameters"
        )
    return (
        f"{arch['n_features']} -> {arch['hidden']} -> {arch['latent_dim']} "
        f"({arch['activation']}; code {arch['code_activation'] or 'linear'}"
        f"{'; variational' if arch.get('variational') else ''}"
        f"{'; sees missing cells' if arch.get('mask_inputs') else ''}; "
        f"{parameters:,} parameters)"
    )


def print_inspect(summary: dict[str, Any], path: str) -> None:
    """Tables on stdout for `aecli inspect`."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    arch = summary["architecture"]
    overview = Table(title=f"{path}", show_header=False)
    overview.add_row("kind", summary["kind"])
    overview.add_row("architecture", _architecture_text(arch, summary["parameters"]))
    for name, value in _metric_rows(summary["metrics"]):
        overview.add_row(name, value)
    history = summary["history"]
    _history_rows(overview, history)
    console.print(overview)

    console.print(_options_table(summary["options"]))

    data = summary["schema"]
    if data.get("type") == "images":
        schema = Table(title="data: images", show_header=False)
        schema.add_row("size", f"{data['height']}x{data['width']} (height x width)")
        schema.add_row(
            "channels", f"{data['channels']} ({'RGB' if data['channels'] == 3 else 'gray'})"
        )
        schema.add_row("pixel likelihood", data["likelihood"])
        schema.add_row("trained on", "random crops" if data["patches"] else "whole images")
    else:
        schema = Table(title="data schema")
        for col in ("column", "dtype", "mean", "scale", "min", "max"):
            schema.add_column(col)
        for c in data["columns"]:
            schema.add_row(
                c["name"], c["dtype"], *(f"{c[s]:.4g}" for s in ("mean", "scale", "min", "max"))
            )
    console.print(schema)

    records = history["records"]
    step = max(1, len(records) // 10)
    curve = Table(title=f"training history (every {step}th epoch)")
    for col in ("epoch", "train loss", "validation loss"):
        curve.add_column(col)
    for r in records[::step] + ([records[-1]] if (len(records) - 1) % step else []):
        train = "" if r["train_loss"] is None else f"{r['train_loss']:.4f}"
        curve.add_row(str(r["epoch"]), train, f"{r['val_loss']:.4f}")
    console.print(curve)


SPARKS = "▁▂▃▄▅▆▇█"


def history_rows(history: dict[str, Any]) -> list[tuple[str, str]]:
    """The loss curves (and a VAE's two terms) as sparklines, a VAE's active units, and the
    training time when recorded."""
    from aecli.results import ACTIVE_VARIANCE

    rows = []
    for label, key in (
        ("training loss", "train_loss"),
        ("validation loss", "val_loss"),
        ("reconstruction term", "val_reconstruction"),
        ("KL term", "val_kl"),
    ):
        values = [r[key] for r in history["records"] if r.get(key) is not None]
        if len(values) > 1:
            rows.append((label, f"{sparkline(values)} {values[0]:.3g} -> {values[-1]:.3g}"))
    latent = history.get("latent")
    if latent:
        active = sum(v > ACTIVE_VARIANCE for v in latent["mean_variance"])
        kl = ", ".join(f"{v:.2g}" for v in latent["kl"][:16])
        more = ", ..." if len(latent["kl"]) > 16 else ""
        rows.append(("active units", f"{active} of {len(latent['kl'])} (KL per unit: {kl}{more})"))
    if history.get("seconds") is not None:
        rows.append(("training time", f"{history['seconds']:.1f} s"))
    if history.get("world_size") is not None:
        world = history["world_size"]
        where = f"{history.get('device', '?')}, {history.get('precision', '?')}"
        rows.append(("trained on", f"{where}, {world} process{'es' if world > 1 else ''}"))
    return rows


def sparkline(values: list[float], width: int = 30) -> str:
    """A loss curve in one line of block characters (at most `width`; epochs averaged into
    bins when there are more), lowest value lowest."""
    finite = [v for v in values if v == v and abs(v) != float("inf")]
    if not finite:
        return ""
    bins = min(width, len(values))
    points = []
    for i in range(bins):
        chunk = values[i * len(values) // bins : (i + 1) * len(values) // bins]
        chunk = [v for v in chunk if v in finite] or [finite[-1]]
        points.append(sum(chunk) / len(chunk))
    low, high = min(points), max(points)
    span = (high - low) or 1.0
    return "".join(SPARKS[round((p - low) / span * (len(SPARKS) - 1))] for p in points)


def _options_table(opts: dict[str, Any]) -> Any:
    from rich.table import Table

    options = Table(title="training options")
    options.add_column("option")
    options.add_column("value")
    for name, value in opts.items():
        options.add_row(name, str(value))
    return options


def _metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str]]:
    """inspect's rows of the training metrics; the anomaly scores as one line."""
    from aecli.results import score_line

    rows = []
    for name, value in metrics.items():
        if name == "score" and isinstance(value, dict):
            held = f"{value.get('split', 'held-out')} rows"
            rows.append(("anomaly scores", score_line(value, held) or ""))
        else:
            rows.append((name, f"{value:.4f}" if isinstance(value, float) else str(value)))
    return rows


def print_evaluation(figures: EvaluationFigures) -> None:
    """`aecli evaluate`'s table on stdout; each figure's row says its units."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{figures.kind} on {figures.rows} {figures.row_word}")
    table.add_column("figure")
    table.add_column("model", justify="right")
    table.add_column("PCA", justify="right")
    unit = "pixels in [0, 1]" if figures.data == "images" else "standardised units"
    table.add_row(f"reconstruction MSE ({unit})", f"{figures.model_mse:.4f}", _fmt(figures.pca_mse))
    per = "nats/image" if figures.data == "images" else "nats/row"
    pca_ll = _fmt(figures.pca_log_likelihood, ".3f")
    if figures.elbo is not None and figures.iwae_log_likelihood is not None:
        table.add_row(f"ELBO ({per})", f"{figures.elbo:.3f}", "")
        k = figures.importance_samples
        table.add_row(f"log p(x), IWAE K={k} ({per})", f"{figures.iwae_log_likelihood:.3f}", pca_ll)
    elif figures.pca_log_likelihood is not None:
        table.add_row(f"log p(x) ({per})", "VAE only", pca_ll)  # a kind without a likelihood
    for f in figures.per_feature:
        if f.measure == "accuracy":
            name, spec = f"  {f.column}: label accuracy", ".3f"
        else:
            name, spec = f"  {f.column}: MSE (data units)", ".4g"
        table.add_row(name, format(f.model, spec), _fmt(f.pca, spec))
    console = Console()
    console.print(table)
    from aecli.results import score_line

    scores = dict(figures.scores or {})
    line = score_line({**scores, "threshold": None}, figures.row_word)
    if line and scores.get("threshold") is not None:
        line += (
            f"; {scores['above_threshold']} above the model's outlier threshold "
            f"{scores['threshold']:.4g}"
        )
    if line:
        console.print(line, soft_wrap=True)
    for note in figures.notes:
        console.print(f"note: {note}", soft_wrap=True)


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "" if value is None else format(value, spec)


def _sample_defaults(chosen: dict) -> str:
    """The sample defaults chosen at training time, in words."""
    calibrated = chosen.get("marginals") == "calibrated"
    return (
        f"--from {chosen['source']} --temperature {chosen['temperature']:g}"
        + (f" (density: {chosen['density']})" if "density" in chosen else "")
        + _noise_words(chosen["noise"])
        + (", marginals calibrated to the training quantiles" if calibrated else "")
        + (f"; chosen by {chosen['criterion']}" if "criterion" in chosen else "")
    )


def _noise_words(noise: str | bool) -> str:
    """The observation noise chosen ("none", "independent", "residuals"; older files: a bool)."""
    if noise in (True, "independent"):
        return ", independent residual noise added"
    if noise == "residuals":
        return ", training residual vectors added"
    return ""


def _history_rows(overview: Any, history: dict) -> None:
    """The epochs run and the sample defaults chosen at training time."""
    overview.add_row(
        "epochs",
        f"{history['epochs_run']} run, best {history['best_epoch']}"
        + (" (stopped early)" if history["stopped_early"] else ""),
    )
    if history.get("sampling"):
        overview.add_row("sample defaults", _sample_defaults(history["sampling"]))
    for label, value in history_rows(history):
        overview.add_row(label, value)
