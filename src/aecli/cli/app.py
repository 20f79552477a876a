"""The command line: parse, validate, call the library, print. No torch at import time.

stdout carries data (codes, tables, --json summaries); stderr carries progress and messages.
A user's mistake is one line and exit code 2; an internal error exits 1, with the traceback only
under --debug or AECLI_DEBUG=1.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import traceback
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from aecli._version import __version__
from aecli.cli.support import (
    BUILTIN_MODELS,
    Force,
    Json,
    Keep,
    ModelPath,
    OutDir,
    Quiet,
    Recursive,
    StopOnSignal,
    denoise_images,
    emit_json,
    finish_table,
    prepare_output,
    progress_path,
    save_images,
    say,
    show_warnings,
    with_train_options,
    write_output_table,
)
from aecli.errors import UserError
from aecli.options import TrainOptions, parse_int_list

DEBUG_FLAG = "--debug"


def _debug_wanted(args: list[str]) -> bool:
    return DEBUG_FLAG in args or os.environ.get("AECLI_DEBUG", "") not in ("", "0")


class AecliGroup(TyperGroup):
    """Maps every failure to the promised exit code and a one-line message."""

    def main(self, args: Any = None, prog_name: str | None = None, **extra: Any) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        debug = _debug_wanted(argv)
        argv = [a for a in argv if a != DEBUG_FLAG]  # accepted anywhere on the line
        extra["standalone_mode"] = False
        try:
            code = super().main(args=argv, prog_name=prog_name or "aecli", **extra)
        except UserError as exc:
            say(f"error: {exc}")
            code = exc.exit_code
        except Exception as exc:
            if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a Click usage error
                ctx = getattr(exc, "ctx", None)
                where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                say(f"error: {exc.format_message()}{where}")
                code = exc.exit_code
            else:
                if debug:
                    traceback.print_exc()
                say(
                    f"error: internal error ({type(exc).__name__}: {exc}); "
                    + ("" if debug else "rerun with --debug for the traceback, and ")
                    + "please report it"
                )
                code = 1
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=AecliGroup,
    name="aecli",
    help="Train autoencoders on tables and images: compress, reconstruct, denoise, generate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"aecli {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            DEBUG_FLAG,
            help="Show tracebacks of internal errors (also AECLI_DEBUG=1; any position).",
        ),
    ] = False,
) -> None:
    """aecli: autoencoders from the shell."""


@app.command(no_args_is_help=True)
@with_train_options
def train(
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
    **options: Any,
) -> None:
    """Train an autoencoder on a table or on images and save it as one .safetensors file."""
    from aecli.errors import TrainingInterrupted
    from aecli.store.atomic import check_output

    show_warnings(quiet)
    for f in dataclasses.fields(TrainOptions):
        if f.metadata["cli"] == "intlist":
            options[f.name] = parse_int_list(options[f.name], "--" + f.name)
        if f.metadata["cli"] == "multi":
            options[f.name] = tuple(options[f.name] or ())
    TrainOptions.from_dict(options).validate()
    if output is None:
        if data == "-" or any(ch in data for ch in "*?["):
            raise UserError("name the checkpoint with -o FILE.safetensors")
        output = Path(Path(data).name).with_suffix(".safetensors")
    check_output(output, force, inputs=[data])
    progress = resume or progress_path(output)
    if resume is None and progress.exists() and not force:
        raise UserError(
            f"{progress} holds an interrupted run; continue it with --resume {progress}, "
            "or pass --force to start over"
        )
    if resume is not None and not resume.is_file():
        raise UserError(f"--resume {resume}: no such file")

    from aecli import api
    from aecli.cli.progress import EpochProgress

    stop = StopOnSignal(quiet)
    try:
        with stop, EpochProgress(enabled=not quiet and sys.stderr.isatty()) as bar:
            model = api.train(
                data,
                on_epoch=bar.update,
                should_stop=stop,
                progress_path=progress,
                checkpoint_every=checkpoint_every,
                resume=resume,
                **({} if resume else options),
            )
    except TrainingInterrupted as exc:
        exc.exit_code = 128 + (stop.signum or 2)
        exc.args = (f"{exc}; resume with: aecli train {data} --resume {progress} -o {output}",)
        raise
    model.save(output, force=force)
    progress.unlink(missing_ok=True)
    summary = {
        "output": str(output),
        "kind": model.kind,
        "latent_dim": model.latent_dim,
        "data": "images" if model.is_image else "table",
        "columns": model.architecture.n_features,
        "epochs_run": model.history["epochs_run"],
        "best_epoch": model.history["best_epoch"],
        "stopped_early": model.history["stopped_early"],
        "seconds": round(model.train_seconds or 0.0, 3),
        **model.metrics,
    }
    if json_out:
        emit_json(summary)
    if not quiet:
        from aecli.cli.render import train_summary

        say(train_summary(summary, data))


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


@app.command()
def models(json_out: Json = False) -> None:
    """List the built-in models, usable wherever a command takes MODEL."""
    if json_out:
        emit_json(BUILTIN_MODELS)
        return
    for name, summary in BUILTIN_MODELS.items():
        print(f"{name:10} {summary}")


@app.command(no_args_is_help=True)
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
        float, typer.Option("--temperature", min=0.0, max=100.0, help="Scale of the code spread.")
    ] = 1.0,
    source: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="prior|codes",
            help="prior: z ~ N(0, I) (VAE only); codes: the Gaussian mixture fitted to the "
            "training codes. Default: prior for a VAE, codes otherwise.",
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
) -> None:
    """Generate new rows in the training data's columns, units, types and ranges; for an image
    model, PNGs in --out-dir (sample-0001.png, ...) and/or one --grid image."""
    from aecli import api

    model = api.load(model_path)
    if model.is_image:
        if output is not None or condition is not None:
            raise UserError("an image model writes PNGs: use --out-dir DIR and/or --grid FILE")
        images = model.sample_images(n, seed=seed, temperature=temperature, source=source)
        digits = max(4, len(str(n)))
        named = [(f"sample-{i + 1:0{digits}d}.png", im) for i, im in enumerate(images)]
        save_images(named, out_dir, grid, force, quiet, json_out, [model_path], "sampled")
        return
    if out_dir is not None or grid is not None:
        raise UserError("--out-dir and --grid are for image models; write rows with -o FILE")
    target = prepare_output(output, force, quiet, json_out, [model_path], "sampled rows")
    frame = model.sample(n, seed=seed, temperature=temperature, source=source, condition=condition)
    finish_table(frame, target, force, quiet, json_out, "sampled")


@app.command(no_args_is_help=True)
def evaluate(
    model_path: ModelPath,
    data: Annotated[str, typer.Argument(metavar="DATA", help="Held-out table; '-' is stdin.")],
    importance_samples: Annotated[
        int,
        typer.Option("--importance-samples", "-K", min=1, max=100_000, help="VAE: IWAE samples."),
    ] = 100,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the Monte-Carlo estimates.")] = 0,
    json_out: Json = False,
) -> None:
    """Reconstruction error per feature and overall, beside PCA's; for a VAE also the ELBO and
    the IWAE estimate of log p(x) in nats per row (probabilistic PCA's beside it)."""
    from aecli import api

    model = api.load(model_path)
    figures = model.evaluate(data, importance_samples=importance_samples, seed=seed)
    if json_out:
        emit_json(figures)
    else:
        from aecli.cli.render import print_evaluation

        print_evaluation(figures)


@app.command(no_args_is_help=True, name="inspect")
def inspect_(model_path: ModelPath, json_out: Json = False) -> None:
    """Show a checkpoint's kind, architecture, options, schema, history and PCA baseline."""
    from aecli import api

    summary = api.load(model_path).summary()
    if json_out:
        emit_json(summary)
    else:
        from aecli.cli.render import print_inspect

        print_inspect(summary, str(model_path))


@app.command()
def kinds(json_out: Json = False) -> None:
    """List the kinds of autoencoder and what each one's preset sets."""
    from aecli.parts.kinds import KINDS

    if json_out:
        emit_json({k.name: {"summary": k.summary, "preset": k.preset} for k in KINDS.values()})
        return
    for k in KINDS.values():
        preset = ", ".join(f"{n}={v}" for n, v in k.preset.items())
        print(f"{k.name:14} {k.summary}  [{preset}]")


def main() -> None:
    """Console-script entry point."""
    app()
