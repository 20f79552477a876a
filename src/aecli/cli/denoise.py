"""`aecli denoise`: fill a table's missing cells, or clean images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aecli.cli.app import app
from aecli.cli.support import (
    BUILTIN_MODELS,
    Force,
    Json,
    OutDir,
    Quiet,
    Recursive,
    denoise_images,
    finish_table,
    prepare_output,
    say,
    write_output_table,
)
from aecli.errors import UserError


@app.command(no_args_is_help=True)
def denoise(
    model_ref: Annotated[
        str,
        typer.Argument(
            metavar="MODEL", help="A checkpoint, or a built-in model (`aecli models`): photo."
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Repair data: fill a table's missing cells, or clean noisy images of any size with the
    photo model or a model trained on images."""
    from aecli import api
    from aecli.data.images import is_image_source

    builtin = not Path(model_ref).is_file() and model_ref in BUILTIN_MODELS
    model = None if builtin else api.load(model_ref)
    if model is None or model.is_image:
        args = (out_dir, quality, force, quiet, json_out, recursive, model)
        denoise_images(model_ref, Path(data), output, *args)
        return
    if out_dir is not None:
        raise UserError("--out-dir is for images; for a table use -o FILE")

    inputs = [data, model_ref] + ([str(mask_out)] if mask_out else [])
    target = prepare_output(output, force, quiet, json_out, inputs, "repaired rows")
    if mask_out is not None:
        from aecli.store.atomic import check_output

        check_output(mask_out, force, inputs=[data, model_ref, target])
    if is_image_source(data):
        raise UserError(
            f"{model_ref} was trained on a table; denoise images with a model trained on "
            f"images, or the built-in one: aecli denoise photo {data}"
        )
    repaired, mask = model.denoise(data, all_cells=all_cells, iterations=iterations)
    if mask_out is not None:
        write_output_table(mask.astype(int), str(mask_out), force)
    finish_table(repaired, target, force, quiet, json_out, "repaired")
    if not quiet and not json_out:
        say(f"{int(mask.to_numpy().sum())} cells {'replaced' if all_cells else 'filled'}")
