"""`aecli encode` and `aecli decode`: rows to codes and codes to rows or images."""

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
    OutDir,
    Quiet,
    Recursive,
    ShardOption,
    with_run_options,
)
from aecli.data.adapter import Targets


@app.command(no_args_is_help=True)
@with_run_options
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
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            metavar="DIR",
            help="Many table files (a folder or glob): one codes file per input file, with the "
            "same names, in DIR.",
        ),
    ] = None,
    recursive: Recursive = False,
    shard: ShardOption = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Encode every row (or image) to its code z1..zK, in the input's order."""
    from aecli import api
    from aecli.data.shards import sharded

    common = Common(force, quiet, json_out, log_every)
    data = sharded(data, shard)
    how = {"keep": tuple(keep or ()), "stochastic": stochastic, "with_logvar": with_logvar}
    if out_dir is not None:
        _encode_each(common, model_path, data, out_dir, output, how, seed, run)
        return
    target = common.table_target(output, [data, model_path], "codes")
    model = api.load(model_path, **run)
    model.require_codes("encode")
    with common.progress("encode"):
        codes = model.encode_blocks(data, seed=seed, recursive=recursive, **how)  # streamed
        common.write_table(codes, target, "encoded")


def _encode_each(
    common: Common,
    model_path: str,
    data: str,
    out_dir: Path,
    output: str | None,
    how: dict[str, Any],
    seed: int,
    run: dict[str, Any],
) -> None:
    """encode --out-dir: each input file into its own codes file of the same name."""
    from aecli import api
    from aecli.data.tables import write_frame
    from aecli.errors import UserError
    from aecli.outputs import per_file_targets

    if output is not None:
        raise UserError("give either -o FILE (one codes file) or --out-dir DIR, not both")
    model = api.load(model_path, **run)
    model.adapter.require("table", "--out-dir with encode")
    summaries = []
    for source, target in per_file_targets(data, out_dir, common.force):
        codes = model.encode_blocks(source, seed=seed, **how)
        written = write_frame(codes, str(target), common.force)
        summaries.append(written.summary)
        common.say(f"encoded {written.count} rows -> {target}")
    common.finish({"outputs": summaries}, None)


@app.command(no_args_is_help=True)
@with_run_options
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
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Decode codes back to rows in the training data's columns, order and units; for an image
    model, to one PNG per row in --out-dir, named from the codes' path column."""
    from aecli import api

    common = Common(force, quiet, json_out, log_every)
    model = api.load(model_path, **run)
    model.require_codes("decode")
    inputs = [codes, model_path]
    targets = model.adapter.check_targets(Targets(output, out_dir), force, inputs)
    common.stdout_free(targets.output or "", "decoded rows")
    with common.progress("decode"):
        blocks = model.decode_blocks(codes, keep=tuple(keep or ()), probabilities=probabilities)
        result = blocks if model.adapter.streams_out else model.adapter.join_out(list(blocks))
        common.write_result(model, result, targets, inputs, "decoded")
