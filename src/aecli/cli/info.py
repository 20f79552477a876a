"""`aecli evaluate` and `aecli inspect`: what a model does on data, and what it holds."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aecli.cli.app import app
from aecli.cli.support import (
    Json,
    LogEvery,
    ModelPath,
    Quiet,
    emit_json,
    with_run_options,
)


@app.command(no_args_is_help=True)
@with_run_options
def evaluate(
    model_path: ModelPath,
    data: Annotated[str, typer.Argument(metavar="DATA", help="Held-out table; '-' is stdin.")],
    importance_samples: Annotated[
        int,
        typer.Option("--importance-samples", "-K", min=1, max=100_000, help="VAE: IWAE samples."),
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte-Carlo estimates.")] = 0,
    json_out: Json = False,
    quiet: Quiet = False,
    log_every: LogEvery = 30.0,
    **run: Any,
) -> None:
    """Reconstruction error per feature and overall, beside PCA's; for a VAE also the ELBO and
    the IWAE estimate of log p(x) in nats per row (probabilistic PCA's beside it)."""
    from aecli import api
    from aecli.cli.progress import Progress

    model = api.load(model_path, **run)
    with Progress("evaluate", quiet, log_every):
        figures = model.evaluate(data, importance_samples=importance_samples, seed=seed)
    if json_out:
        emit_json(figures.to_dict())
    else:
        from aecli.cli.render import print_evaluation

        print_evaluation(figures)


@app.command(no_args_is_help=True, name="inspect")
def inspect_(
    model_path: ModelPath,
    json_out: Json = False,
    config: Annotated[
        bool,
        typer.Option(
            "--config",
            help="Print only the training options, as the TOML file `aecli train --config` "
            "reads: the run again gives the same checkpoint.",
        ),
    ] = False,
) -> None:
    """Show a checkpoint's kind, architecture, options, schema, history and PCA baseline."""
    from aecli import api

    model = api.load(model_path, device="cpu")
    if config:
        from aecli.config import config_text

        typer.echo(config_text(model.options, f"from {model_path}"), nl=False)
        return
    summary = model.summary()
    if json_out:
        emit_json(summary)
    else:
        from aecli.cli.render import print_inspect

        print_inspect(summary, str(model_path))
