"""`aecli encode` and `aecli decode`: rows to codes and codes to rows or images."""

from __future__ import annotations

from typing import Annotated

import typer

from aecli.cli.app import app
from aecli.cli.support import Common, Force, Json, Keep, ModelPath, OutDir, Quiet, Recursive
from aecli.data.adapter import Targets


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
    from aecli import api

    common = Common(force, quiet, json_out)
    target = common.table_target(output, [data, model_path], "codes")
    model = api.load(model_path)
    model.require_codes("encode")
    codes = model.encode(
        data,
        keep=tuple(keep or ()),
        stochastic=stochastic,
        with_logvar=with_logvar,
        seed=seed,
        recursive=recursive,
    )
    common.write_table(codes, target, "encoded")


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

    common = Common(force, quiet, json_out)
    model = api.load(model_path)
    model.require_codes("decode")
    inputs = [codes, model_path]
    targets = model.adapter.check_targets(Targets(output, out_dir), force, inputs)
    common.stdout_free(targets.output or "", "decoded rows")
    result = model.decode(codes, keep=tuple(keep or ()), probabilities=probabilities)
    common.write_result(model, result, targets, inputs, "decoded")
