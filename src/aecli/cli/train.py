"""`aecli train`: fit a model to a table or images and save its checkpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.messages import (
    TRAIN_EXAMPLES,
    panel_command_class,
    refuse_options_with_resume,
)
from aecli.cli.report import check_report_target, write_training_report
from aecli.cli.support import (
    Force,
    Json,
    LogEvery,
    Quiet,
    StopOnSignal,
    emit_json,
    given_options,
    say,
    show_warnings,
    with_run_options,
    with_train_options,
)


@app.command(no_args_is_help=True, cls=panel_command_class(), epilog=TRAIN_EXAMPLES)
@with_train_options
@with_run_options
def train(
    ctx: typer.Context,
    data: Annotated[
        str,
        typer.Argument(
            metavar="DATA",
            help="CSV, TSV or Parquet file ('-' reads CSV on stdin), or images: a folder, a "
            "quoted glob such as 'scans/*.png', or one image file.",
        ),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Checkpoint to write. Default: DATA's name .safetensors."
        ),
    ] = None,
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every",
            metavar="N",
            min=0,
            help="Save a resumable OUTPUT.resume.safetensors every N epochs (it is also saved "
            "on SIGINT / SIGTERM, and removed when training finishes).",
        ),
    ] = 0,
    resume: Annotated[
        Path | None,
        typer.Option(
            "--resume",
            metavar="CKPT",
            help="Continue an interrupted run from its .resume.safetensors file, with its options.",
        ),
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report",
            metavar="FILE",
            help="Also write an HTML report (see `aecli report`) on the validation rows.",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            metavar="FILE",
            help="Read the training options from a TOML file (name = value lines, as "
            "--print-config or `aecli inspect MODEL --config` write them); flags override it.",
        ),
    ] = None,
    print_config: Annotated[
        bool,
        typer.Option(
            "--print-config",
            help="Print the resolved options (file, flags, kind defaults) as TOML and exit.",
        ),
    ] = False,
    report_label: Annotated[
        str | None,
        typer.Option("--report-label", metavar="COL", help="--report: colour the codes by COL."),
    ] = None,
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    log_every: LogEvery = 30.0,
    **options: Any,
) -> None:
    """Train an autoencoder on a table or on images and save it as one .safetensors file."""
    from aecli.errors import TrainingInterrupted
    from aecli.run_options import launch_rank

    run = {"device": options.pop("device"), "precision": options.pop("precision")}
    writer = launch_rank() == 0  # under torchrun, only rank 0 writes and talks
    quiet = quiet or not writer
    show_warnings(quiet)
    given = given_options(ctx, options)
    from aecli.config import config_text, options_from

    chosen = options_from(config, **given)  # the file, then the flags over it; checked
    if print_config:
        typer.echo(config_text(chosen.resolved()), nl=False)
        return
    from aecli.outputs import train_outputs

    paths = train_outputs(data, output, resume, force)
    output, progress = paths.checkpoint, paths.progress
    if resume is not None:
        refuse_options_with_resume(given if config is None else {**given, "config": config})
    check_report_target(report, report_label, data, output, force)

    from aecli import api
    from aecli.cli.progress import Progress

    stop = StopOnSignal(quiet)
    try:
        with stop, Progress("train", quiet, log_every):
            model = api.train(
                data,
                should_stop=stop,
                progress_path=progress,
                checkpoint_every=checkpoint_every,
                resume=resume,
                **run,
                **({} if resume else chosen.to_dict()),
            )
    except TrainingInterrupted as exc:
        exc.exit_code = 128 + (stop.signum or 2)
        if not writer:
            raise typer.Exit(exc.exit_code) from None
        exc.args = (f"{exc}; resume with: aecli train {data} --resume {progress} -o {output}",)
        raise
    if not writer:
        return
    model.save(output, force=force)
    progress.unlink(missing_ok=True)
    from aecli.results import summarise_training

    summary = summarise_training(model, str(output))
    if report is not None:
        write_training_report(model, data, report, report_label, force, quiet, log_every)
        summary.notes.append(f"report written to {report}")
    if json_out:
        emit_json(summary.to_dict())
    if not quiet:
        from aecli.cli.render import train_summary

        say(train_summary(summary, data))
