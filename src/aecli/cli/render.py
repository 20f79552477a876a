"""Human-readable summaries: the end-of-training report and `inspect`'s tables."""

from __future__ import annotations

from typing import Any


def train_summary(s: dict[str, Any], data: str) -> str:
    """A few lines for stderr after `train`: epochs, errors, and the comparison with PCA."""
    stop = f", stopped early (best epoch {s['best_epoch']})" if s["stopped_early"] else ""
    lines = [
        f"trained {s['kind']} on {data}: {s['rows_train']} training rows, {s['rows_val']} "
        f"validation rows, {s['columns']} columns -> {s['latent_dim']} codes",
        f"epochs: {s['epochs_run']} run{stop}, best weights from epoch {s['best_epoch']}",
        f"reconstruction MSE (standardised units): train {s['train_mse']:.4f}, "
        f"{s['split']} {s['val_mse']:.4f}",
    ]
    ratio = s.get("ratio_to_pca")
    pca = (
        f"PCA with {s['latent_dim']} components on the same {s['split']} rows: "
        f"{s['pca_val_mse']:.4f}"
    )
    if ratio is None:
        lines.append(pca)
    elif ratio <= 1:
        lines.append(
            f"{pca}; this model's error is {100 * (1 - ratio):.1f}% lower ({ratio:.2f}x PCA)"
        )
    else:
        lines.append(
            f"{pca}; this model's error is {100 * (ratio - 1):.1f}% higher ({ratio:.2f}x PCA)"
        )
    lines.append(f"saved {s['output']} in {s['seconds']:.1f} s")
    return "\n".join(lines)


def print_inspect(summary: dict[str, Any], path: str) -> None:
    """Tables on stdout for `aecli inspect`."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    arch = summary["architecture"]
    overview = Table(title=f"{path}", show_header=False)
    overview.add_row("kind", summary["kind"])
    overview.add_row(
        "architecture",
        f"{arch['n_features']} -> {arch['hidden']} -> {arch['latent_dim']} "
        f"({arch['activation']}; code {arch['code_activation'] or 'linear'}"
        f"{'; variational' if arch.get('variational') else ''}"
        f"{'; sees missing cells' if arch.get('mask_inputs') else ''}; "
        f"{summary['parameters']:,} parameters)",
    )
    for name, value in summary["metrics"].items():
        overview.add_row(name, f"{value:.4f}" if isinstance(value, float) else str(value))
    history = summary["history"]
    overview.add_row(
        "epochs",
        f"{history['epochs_run']} run, best {history['best_epoch']}"
        + (" (stopped early)" if history["stopped_early"] else ""),
    )
    console.print(overview)

    options = Table(title="training options")
    options.add_column("option")
    options.add_column("value")
    for name, value in summary["options"].items():
        options.add_row(name, str(value))
    console.print(options)

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


def print_evaluation(figures: dict[str, Any]) -> None:
    """`aecli evaluate`'s table on stdout."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{figures['kind']} on {figures['rows']} rows")
    table.add_column("figure")
    table.add_column("model", justify="right")
    table.add_column("PCA", justify="right")
    mse = figures["reconstruction_mse"]
    table.add_row("reconstruction MSE (standardised)", f"{mse['model']:.4f}", _fmt(mse.get("pca")))
    pca_ll = _fmt(figures.get("pca_log_likelihood"))
    if "elbo" in figures:
        table.add_row("ELBO (nats/row)", f"{figures['elbo']:.3f}", "")
        k = figures["importance_samples"]
        table.add_row(
            f"log p(x), IWAE K={k} (nats/row)", f"{figures['iwae_log_likelihood']:.3f}", pca_ll
        )
    else:
        table.add_row("log p(x) (nats/row)", "", pca_ll)
    for f in figures["per_feature"]:
        table.add_row(
            f"  MSE {f['column']}", f"{f['model_mse']:.4g}", _fmt(f.get("pca_mse"), ".4g")
        )
    Console().print(table)


def _fmt(value: float | None, spec: str = ".4f") -> str:
    return "" if value is None else format(value, spec)
