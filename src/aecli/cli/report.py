"""`aecli report`: one self-contained HTML page of plots that show what a model learned."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.support import Common, Force, Json, LogEvery, ModelPath, Quiet, with_run_options

Label = Annotated[
    str | None,
    typer.Option(
        "--label",
        metavar="COL",
        help="Colour the map of the codes by this column of DATA; for images 'folder' (each "
        "image's folder name) or a regular expression over the file name, e.g. '-(\\d)\\.png$'.",
    ),
]


@app.command(no_args_is_help=True)
@with_run_options
def report(
    model_path: ModelPath,
    data: Annotated[
        str | None,
        typer.Argument(
            metavar="DATA",
            help="Rows (or images) to draw the codes, reconstructions and comparisons from; "
            "without it the report shows the checkpoint's history and options only.",
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", metavar="FILE", help="Default: MODEL's name .html."),
    ] = None,
    label: Label = None,
    rows: Annotated[
        int,
        typer.Option(
            "--rows", metavar="N", min=10, max=1_000_000, help="At most N rows, drawn at random."
        ),
    ] = 2000,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the row sample and samples.")] = 0,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Write an HTML report: loss curves, the model beside PCA, a map of the codes, originals
    beside reconstructions, samples, and the options and data it was trained with."""
    from aecli import api
    from aecli.errors import UserError
    from aecli.model import Model
    from aecli.report import write_report

    common = Common(force, quiet, json_out, log_every)
    target = output or Path(Path(model_path).name).with_suffix(".html")
    model = api.load(model_path, **run)
    if not isinstance(model, Model):
        raise UserError(f"{model_path} is a built-in model without a training history to report")
    if label is not None and data is None:
        raise UserError("--label colours the codes of DATA; give DATA too")
    with common.progress("report"):
        write_report(
            model,
            target,
            data,
            force=force,
            label=label,
            max_rows=rows,
            seed=seed,
            name=str(model_path),
        )
    common.finish({"output": str(target)}, f"wrote report -> {target}")


def check_report_target(
    report: Path | None, label: str | None, data: str, checkpoint: Path, force: bool
) -> None:
    """`train --report`: refused before training when it cannot be written."""
    from aecli.errors import UserError
    from aecli.store.atomic import check_output

    if report is None:
        if label is not None:
            raise UserError("--report-label colours the codes in --report FILE; add --report")
        return
    if data == "-":
        raise UserError("--report reads the data again after training; give a file, not stdin")
    if Path(report) == Path(checkpoint):
        raise UserError("--report and the checkpoint are the same file; choose another")
    check_output(report, force, inputs=[data])


def write_training_report(
    model: Any, data: str, report: Path, label: str | None, force: bool, quiet: bool, every: float
) -> None:
    """`train --report`: the report on the rows training held out for validation."""
    from aecli.cli.progress import Progress
    from aecli.report import write_report

    with Progress("report", quiet, every):
        write_report(
            model,
            report,
            data,
            force=force,
            label=label,
            held_out=True,
            name=f"{data}, {model.kind}",
            source=f"{data} (validation rows)",
        )
