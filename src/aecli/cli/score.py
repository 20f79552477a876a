"""`aecli score`: one anomaly score per row (or image), with its percentile and outlier flag."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.support import (
    Common,
    Force,
    Json,
    Keep,
    LogEvery,
    ModelPath,
    Quiet,
    Recursive,
    ShardOption,
    quiet_pipe,
    with_run_options,
)

METHOD_HELP = (
    "reconstruction: the loss per present cell (squared error in standardised units, "
    "cross-entropy for categories); likelihood: -log p(x) in nats per row (VAE: importance "
    "sampling; other kinds: code density + Student-t residuals). Default: the method of the "
    "checkpoint's validation scores (likelihood; reconstruction for images, except a VAE's)."
)


@app.command(no_args_is_help=True)
@with_run_options
def score(
    model_path: ModelPath,
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="Table to score ('-' reads CSV on stdin); for an image model, a folder, glob "
            "or image.",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="Scores file; '-' or absent: stdout."),
    ] = None,
    keep: Keep = None,
    method: Annotated[
        str | None,
        typer.Option("--method", metavar="reconstruction|likelihood", help=METHOD_HELP),
    ] = None,
    samples: Annotated[
        int,
        typer.Option(
            "--importance-samples", "-K", min=1, max=100_000, help="VAE likelihood: samples."
        ),
    ] = 100,
    fast: Annotated[
        bool, typer.Option("--fast", help="VAE likelihood: -ELBO (one sample), not IWAE.")
    ] = False,
    contamination: Annotated[
        float | None,
        typer.Option(
            "--contamination",
            metavar="P",
            help="Flag as outliers scores above the (1-P) quantile of the validation rows' "
            "scores. Default 0.01.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", metavar="X", help="Flag as outliers scores above X."),
    ] = None,
    explain: Annotated[
        int,
        typer.Option(
            "--explain",
            metavar="N",
            min=0,
            help="Tables: add the N columns contributing most, with their shares of the loss.",
        ),
    ] = 0,
    heatmaps: Annotated[
        Path | None,
        typer.Option(
            "--heatmaps", metavar="DIR", help="Images: write per-pixel error maps (PNG) to DIR."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of a VAE's Monte-Carlo draws.")] = 0,
    recursive: Recursive = False,
    shard: ShardOption = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Score every row (or image) by how anomalous the model finds it (higher = more), in the
    input's order, with its percentile among the validation rows and a 0/1 outlier flag."""
    from aecli import api
    from aecli.data.shards import sharded
    from aecli.data.tables import write_frame
    from aecli.score_table import check_threshold, write_heatmaps

    common = Common(force, quiet, json_out, log_every)
    data = sharded(data, shard)
    check_threshold(contamination, threshold)
    target = common.table_target(output, [data, model_path], "scores")
    model = api.load(model_path, **run)
    if heatmaps is not None:
        model.adapter.require("images", "--heatmaps")
    from aecli.score_table import score_blocks

    blocks = score_blocks(
        model,
        data,
        tuple(keep or ()),
        method=method,
        samples=samples,
        fast=fast,
        contamination=contamination,
        threshold=threshold,
        explain=explain,
        seed=seed,
        recursive=recursive,
    )
    maps = []
    if heatmaps is not None:
        inputs = [model_path] if target == "-" else [model_path, target]
        maps = write_heatmaps(
            model, data, heatmaps, force=force, recursive=recursive, inputs=inputs
        )
    for note in blocks.attrs["notes"]:
        common.say(f"note: {note}")
    with common.progress("score"):
        written = quiet_pipe(lambda: write_frame(blocks, target, force))
    if written is None:
        return
    attrs = blocks.attrs
    flagged = f"{attrs['outliers']} above the threshold {attrs['threshold']:.4g}"
    summary = {**written.summary, **{k: attrs[k] for k in ("method", "samples", "threshold")}}
    summary.update(outliers=attrs["outliers"], heatmaps=len(maps), notes=attrs["notes"])
    line = f"scored {written.count} {model.adapter.noun} ({attrs['method']}) -> {written.where}"
    common.finish(summary, f"{line}; {flagged}" if written.where else None)
