"""`aecli denoise`: fill a table's missing cells, or clean images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.completion import complete_models
from aecli.cli.support import (
    Common,
    Force,
    Json,
    LogEvery,
    OutDir,
    Quiet,
    Recursive,
    ShardOption,
    with_run_options,
)


@app.command(no_args_is_help=True)
@with_run_options
def denoise(
    model_ref: Annotated[
        str,
        typer.Argument(
            metavar="MODEL",
            help="A checkpoint, or a built-in model (`aecli models`): photo.",
            autocompletion=complete_models,
        ),
    ],
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="A table whose missing cells to fill ('-' is stdin); for the photo model or a "
            "model trained on images, an image, a folder or a quoted glob.",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="Output file; '-' or absent: stdout."),
    ] = None,
    out_dir: OutDir = None,
    all_cells: Annotated[
        bool, typer.Option("--all", help="Tables: replace every cell by its denoised value.")
    ] = False,
    mask_out: Annotated[
        Path | None,
        typer.Option("--mask-out", metavar="FILE", help="Tables: write which cells were filled."),
    ] = None,
    iterations: Annotated[
        int | None,
        typer.Option(
            "--iterations",
            min=1,
            max=100,
            help="Tables: rounds of iterated reconstruction. Default: chosen on the data.",
        ),
    ] = None,
    quality: Annotated[
        int, typer.Option("--quality", min=1, max=100, help="Images: JPEG quality.")
    ] = 95,
    recursive: Recursive = False,
    shard: ShardOption = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Repair data: fill a table's missing cells, or clean noisy images of any size with the
    photo model or a model trained on images."""
    from aecli import api
    from aecli.data.shards import sharded
    from aecli.outputs import repair

    common = Common(force, quiet, json_out, log_every)
    data = sharded(data, shard)
    if output in (None, "-") and out_dir is None:
        common.stdout_free("-", "repaired rows")
    model = api.load(model_ref, **run)
    with common.progress("denoise"):
        done = repair(
            model,
            data,
            output=output,
            out_dir=out_dir,
            mask_out=mask_out,
            all_cells=all_cells,
            iterations=iterations,
            quality=quality,
            recursive=recursive,
            force=force,
            on_item=lambda source, target: common.say(f"denoised {source} -> {target}"),
        )
    if done.cells is None:  # images
        common.finish({"model": model_ref, "outputs": done.outputs}, None)
        return
    verb = "replaced" if all_cells else "filled"
    target = done.outputs[0]
    summary = {"output": target, "rows": done.rows, "cells_" + verb: done.cells}
    summary["rounds"] = done.rounds
    line = f"repaired {done.rows} rows -> {target}" if target != "-" else None
    common.finish(summary, line)
    common.say(f"{done.cells} cells {verb}")
