"""`aecli encode` and `aecli decode`: rows to codes and codes to rows or images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.support import (
    Force,
    Json,
    Keep,
    ModelPath,
    OutDir,
    Quiet,
    Recursive,
    finish_table,
    prepare_output,
    save_images,
)
from aecli.errors import UserError


@app.command(no_args_is_help=True)
def encode(
    model_path: ModelPath,
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="Table to encode ('-' reads CSV on stdin); for an image model, a folder, glob "
            "or image (rows then start with the image's path).",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="Codes file; '-' or absent: stdout."),
    ] = None,
    keep: Keep = None,
    stochastic: Annotated[
        bool, typer.Option("--stochastic", help="VAE: draw z ~ q(z|x) (with --seed), not the mean.")
    ] = False,
    with_logvar: Annotated[
        bool, typer.Option("--with-logvar", help="VAE: add posterior log-variance columns.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed for --stochastic.")] = 0,
    recursive: Recursive = False,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Encode every row (or image) to its code z1..zK, in the input's order."""
    _run_transform(
        "encode",
        model_path,
        data,
        output,
        keep,
        force,
        quiet,
        json_out,
        stochastic=stochastic,
        with_logvar=with_logvar,
        seed=seed,
        recursive=recursive,
    )


@app.command(no_args_is_help=True)
def decode(
    model_path: ModelPath,
    codes: Annotated[
        str, typer.Argument(metavar="CODES", help="Codes table with columns z1..zK; '-' is stdin.")
    ],
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", metavar="FILE", help="Table to write; '-' or absent: stdout."
        ),
    ] = None,
    keep: Keep = None,
    probabilities: Annotated[
        bool,
        typer.Option(
            "--probabilities", help="Write categorical columns as one probability per category."
        ),
    ] = False,
    out_dir: OutDir = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Decode codes back to rows in the training data's columns, order and units; for an image
    model, to one PNG per row in --out-dir, named from the codes' path column."""
    from aecli import api

    model = api.load(model_path)
    if model.is_image:
        if output is not None or keep or probabilities or out_dir is None:
            raise UserError("this model makes images: write them with --out-dir DIR (not -o)")
        named = model.decode_images(codes)
        save_images(named, out_dir, None, force, quiet, json_out, [codes, model_path], "decoded")
        return
    if out_dir is not None:
        raise UserError("--out-dir is for image models; write a table with -o FILE")
    _run_transform(
        "decode",
        model_path,
        codes,
        output,
        keep,
        force,
        quiet,
        json_out,
        model=model,
        probabilities=probabilities,
    )


def _run_transform(
    verb: str,
    model_path: Path,
    data: str,
    output: str | None,
    keep: list[str] | None,
    force: bool,
    quiet: bool,
    json_out: bool,
    model: Any = None,
    **extra: Any,
) -> None:
    from aecli import api

    target = prepare_output(output, force, quiet, json_out, [data, model_path], f"{verb}d rows")
    model = model or api.load(model_path)
    frame = getattr(model, verb)(data, keep=tuple(keep or ()), **extra)
    finish_table(frame, target, force, quiet, json_out, verb + "d")
