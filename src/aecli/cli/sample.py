"""`aecli sample`: generate new rows or images."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.support import (
    Common,
    Force,
    Json,
    LogEvery,
    ModelPath,
    OutDir,
    Quiet,
    with_run_options,
)
from aecli.data.adapter import Targets


@app.command(no_args_is_help=True)
@with_run_options
def sample(
    model_path: ModelPath,
    n: Annotated[
        int, typer.Option("-n", "--rows", min=1, max=10_000_000, help="Rows to draw.")
    ] = 10,
    output: Annotated[
        str | None, typer.Option("--output", "-o", metavar="FILE", help="'-' or absent: stdout.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="The same seed gives the same rows.")] = 0,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            min=0.0,
            max=100.0,
            help="Scale of the code spread. Default: the one chosen at training time (inspect "
            "shows it), else 1.",
        ),
    ] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="prior|codes",
            help="prior: z ~ N(0, I) (VAE only); codes: the Gaussian mixture fitted to the "
            "training codes. Default: the one chosen at training time on the validation rows "
            "(inspect shows it), else prior for a VAE, codes otherwise.",
        ),
    ] = None,
    condition: Annotated[
        str | None,
        typer.Option(
            "--condition",
            metavar="VALUE",
            help="Conditional models: generate for this value of the condition column "
            "(default: values drawn with their training frequencies).",
        ),
    ] = None,
    out_dir: OutDir = None,
    grid: Annotated[
        Path | None,
        typer.Option("--grid", metavar="FILE", help="Images: also write all samples as one PNG."),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Generate new rows in the training data's columns, units, types and ranges; for an image
    model, PNGs in --out-dir (sample-0001.png, ...) and/or one --grid image."""
    from aecli import api

    common = Common(force, quiet, json_out, log_every)
    model = api.load(model_path, **run)
    model.require_codes("sample")
    targets = model.adapter.check_targets(Targets(output, out_dir, grid), force, [model_path])
    common.stdout_free(targets.output or "", "sampled rows")
    with common.progress("sample"):
        result = model.sample(
            n, seed=seed, temperature=temperature, source=source, condition=condition
        )
    common.write_result(model, result, targets, [model_path], "sampled")
