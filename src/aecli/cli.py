"""The command line: parse, validate, call the library, print. No torch at import time.

stdout carries data (codes, tables, --json summaries); stderr carries progress and messages.
A user's mistake is one line and exit code 2; an internal error exits 1, with the traceback only
under --debug or AECLI_DEBUG=1.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from aecli import __version__
from aecli.errors import UserError
from aecli.options import TrainOptions, parse_int_list

DEBUG_FLAG = "--debug"


def _debug_wanted(args: list[str]) -> bool:
    return DEBUG_FLAG in args or os.environ.get("AECLI_DEBUG", "") not in ("", "0")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


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
            _say(f"error: {exc}")
            code = exc.exit_code
        except Exception as exc:
            if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):  # a Click usage error
                ctx = getattr(exc, "ctx", None)
                where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                _say(f"error: {exc.format_message()}{where}")
                code = exc.exit_code
            else:
                if debug:
                    traceback.print_exc()
                _say(
                    f"error: internal error ({type(exc).__name__}: {exc}); "
                    + ("" if debug else "rerun with --debug for the traceback, and ")
                    + "please report it"
                )
                code = 1
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=AecliGroup,
    name="aecli",
    help="Train autoencoders on tables: compress, reconstruct, denoise and generate.",
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


# --- options shared by commands ------------------------------------------------------------------

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors on stderr.")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
Keep = Annotated[
    list[str] | None,
    typer.Option(
        "--keep", metavar="COL", help="Copy this column through unchanged (repeatable), e.g. an id."
    ),
]
ModelPath = Annotated[
    Path, typer.Argument(metavar="MODEL", help="A checkpoint written by `aecli train`.")
]


def _show_warnings(quiet: bool) -> None:
    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not quiet:
            _say(f"warning: {message}")

    warnings.showwarning = show


def _emit_json(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, indent=2, default=str))


def _stdout_or_file(output: str | None) -> str:
    return "-" if output in (None, "-") else str(output)


def _write_table(frame: Any, target: str, force: bool) -> None:
    from aecli.tabular import write_table

    try:
        write_table(frame, target, force=force)
    except BrokenPipeError:  # `aecli encode ... | head`: end quietly, as csvkit does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


# --- train: its flags come from the TrainOptions dataclass ---------------------------------------


def _option_parameters() -> list[inspect.Parameter]:
    params = []
    for f in dataclasses.fields(TrainOptions):
        meta = f.metadata
        flags = ["--" + f.name.replace("_", "-")] + ([meta["short"]] if meta["short"] else [])
        if meta["cli"] == "intlist":
            annotation, default = str, ",".join(map(str, f.default_factory()))
        elif meta["cli"] == "multi":
            annotation, default = list[str] | None, None
        else:
            annotation, default = f.type, f.default
            annotation = {"int | None": int | None, "float | None": float | None}.get(
                annotation, annotation
            )
            annotation = {"str | None": str | None, "int": int, "float": float, "str": str}.get(
                annotation, annotation
            )
        metavar = {int: "N", float: "X", int | None: "N", float | None: "X"}.get(annotation, "TEXT")
        if meta["cli"] != "value":
            metavar = "SIZES" if meta["cli"] == "intlist" else "COL"
        elif meta["choices"]:
            metavar = "|".join(c for c in meta["choices"] if c != "none")
        help_text = meta["help"]
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[
                    annotation, typer.Option(*flags, metavar=metavar, help=help_text)
                ],
            )
        )
    return params


def _with_train_options(func: Callable[..., None]) -> Callable[..., None]:
    """Give `func` one CLI flag per TrainOptions field, declared once in options.py."""
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    params = own + _option_parameters()
    func.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func


class _StopOnSignal:
    """SIGINT / SIGTERM ask training to stop after the current batch; a second one aborts."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}

    def __call__(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        if not self.quiet:
            _say("stopping after this batch and saving progress (again to abort without saving)")

    def __enter__(self) -> _StopOnSignal:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _progress_path(output: Path) -> Path:
    return output.with_name(output.stem + ".resume.safetensors")


@app.command(no_args_is_help=True)
@_with_train_options
def train(
    data: Annotated[
        str,
        typer.Argument(metavar="DATA", help="CSV, TSV or Parquet file; '-' reads CSV on stdin."),
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
    """Train an autoencoder on a table and save it as one .safetensors checkpoint."""
    from aecli.atomic import check_output
    from aecli.errors import TrainingInterrupted

    _show_warnings(quiet)
    options["hidden"] = parse_int_list(options["hidden"])
    for f in dataclasses.fields(TrainOptions):
        if f.metadata["cli"] == "multi":
            options[f.name] = tuple(options[f.name] or ())
    TrainOptions.from_dict(options).validate()
    if output is None:
        if data == "-":
            raise UserError("reading from stdin: name the checkpoint with -o FILE.safetensors")
        output = Path(Path(data).name).with_suffix(".safetensors")
    check_output(output, force, inputs=[data])
    progress = resume or _progress_path(output)
    if resume is None and progress.exists() and not force:
        raise UserError(
            f"{progress} holds an interrupted run; continue it with --resume {progress}, "
            "or pass --force to start over"
        )
    if resume is not None and not resume.is_file():
        raise UserError(f"--resume {resume}: no such file")

    from aecli import api
    from aecli.progress import EpochProgress

    stop = _StopOnSignal(quiet)
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
        "columns": len(model.schema.columns),
        "epochs_run": model.history["epochs_run"],
        "best_epoch": model.history["best_epoch"],
        "stopped_early": model.history["stopped_early"],
        "seconds": round(model.train_seconds or 0.0, 3),
        **model.metrics,
    }
    if json_out:
        _emit_json(summary)
    if not quiet:
        from aecli.report import train_summary

        _say(train_summary(summary, data))


@app.command(no_args_is_help=True)
def encode(
    model_path: ModelPath,
    data: Annotated[
        str, typer.Argument(metavar="DATA", help="Table to encode; '-' reads CSV on stdin.")
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Encode every row to its code z1..zK, in the input's order."""
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Decode codes back to rows in the training data's columns, order and units."""
    _run_transform(
        "decode",
        model_path,
        codes,
        output,
        keep,
        force,
        quiet,
        json_out,
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
    **extra: Any,
) -> None:
    from aecli import api

    target = _prepare_output(output, force, quiet, json_out, [data, model_path], f"{verb}d rows")
    model = api.load(model_path)
    frame = getattr(model, verb)(data, keep=tuple(keep or ()), **extra)
    _finish_table(frame, target, force, quiet, json_out, verb + "d")


def _prepare_output(
    output: str | None, force: bool, quiet: bool, json_out: bool, inputs: list[Any], what: str
) -> str:
    """Resolve -o (stdout when absent or '-') and refuse clobbering before any work is done."""
    from aecli.atomic import check_output

    _show_warnings(quiet)
    target = _stdout_or_file(output)
    if json_out and target == "-":
        raise UserError(f"--json prints on stdout, which carries the {what}; add -o FILE")
    check_output(target, force, inputs=inputs)
    return target


def _finish_table(
    frame: Any, target: str, force: bool, quiet: bool, json_out: bool, verb: str
) -> None:
    _write_table(frame, target, force)
    if json_out:
        _emit_json({"output": target, "rows": len(frame), "columns": list(frame.columns)})
    elif not quiet and target != "-":
        _say(f"{verb} {len(frame)} rows -> {target}")


BUILTIN_MODELS = {
    "photo": "A convolutional photo denoiser (any size, gray or colour; no training)."
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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
            help="A table whose missing cells to fill ('-' is stdin); for the photo model, an "
            "image or a folder of images.",
        ),
    ],
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", metavar="FILE", help="Output file; '-' or absent: stdout."),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out-dir", metavar="DIR", help="Images: write each result here."),
    ] = None,
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Repair data: fill a table's missing cells, or clean noisy photos with the photo model."""
    if not Path(model_ref).is_file() and model_ref in BUILTIN_MODELS:
        _denoise_images(model_ref, Path(data), output, out_dir, quality, force, quiet, json_out)
        return
    if out_dir is not None:
        raise UserError("--out-dir is for images and the photo model; for a table use -o FILE")
    from aecli import api

    inputs = [data, model_ref] + ([str(mask_out)] if mask_out else [])
    target = _prepare_output(output, force, quiet, json_out, inputs, "repaired rows")
    if mask_out is not None:
        from aecli.atomic import check_output

        check_output(mask_out, force, inputs=[data, model_ref, target])
    if Path(data).suffix.lower() in IMAGE_SUFFIXES:
        raise UserError(
            f"{model_ref} is a table model; denoise images with: aecli denoise photo {data}"
        )
    model = api.load(model_ref)
    repaired, mask = model.denoise(data, all_cells=all_cells, iterations=iterations)
    if mask_out is not None:
        _write_table(mask.astype(int), str(mask_out), force)
    _finish_table(repaired, target, force, quiet, json_out, "repaired")
    if not quiet and not json_out:
        _say(f"{int(mask.to_numpy().sum())} cells {'replaced' if all_cells else 'filled'}")


def _denoise_images(
    name: str,
    data: Path,
    output: str | None,
    out_dir: Path | None,
    quality: int,
    force: bool,
    quiet: bool,
    json_out: bool,
) -> None:
    """The built-in photo model over one image (-o) or a folder (--out-dir), checked up front."""
    from aecli.atomic import check_output

    if data.is_dir():
        sources = sorted(p for p in data.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if out_dir is None:
            raise UserError(f"{data} is a folder: give --out-dir DIR for the denoised images")
        if not sources:
            raise UserError(f"{data} holds no images ({', '.join(IMAGE_SUFFIXES)})")
    elif data.is_file():
        sources = [data]
    else:
        raise UserError(f"{data}: no such image file or folder")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        targets = [out_dir / p.name for p in sources]
    elif output in (None, "-"):
        raise UserError("give the denoised image a name with -o FILE (or --out-dir DIR)")
    else:
        targets = [Path(output)]
    for target in targets:
        check_output(target, force, inputs=sources)
    from aecli.photo import denoise_file, load_builtin

    net = load_builtin(name)
    for source, target in zip(sources, targets, strict=True):
        denoise_file(source, target, force=force, quality=quality, model=net)
        if not quiet and not json_out:
            _say(f"denoised {source} -> {target}")
    if json_out:
        _emit_json({"model": name, "outputs": [str(t) for t in targets]})


@app.command()
def models(json_out: Json = False) -> None:
    """List the built-in models, usable wherever a command takes MODEL."""
    if json_out:
        _emit_json(BUILTIN_MODELS)
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
    force: Force = False,
    quiet: Quiet = False,
    json_out: Json = False,
) -> None:
    """Generate new rows in the training data's columns, units, types and ranges."""
    from aecli import api

    target = _prepare_output(output, force, quiet, json_out, [model_path], "sampled rows")
    model = api.load(model_path)
    frame = model.sample(n, seed=seed, temperature=temperature, source=source, condition=condition)
    _finish_table(frame, target, force, quiet, json_out, "sampled")


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
        _emit_json(figures)
    else:
        from aecli.report import print_evaluation

        print_evaluation(figures)


@app.command(no_args_is_help=True, name="inspect")
def inspect_(model_path: ModelPath, json_out: Json = False) -> None:
    """Show a checkpoint's kind, architecture, options, schema, history and PCA baseline."""
    from aecli import api

    summary = api.load(model_path).summary()
    if json_out:
        _emit_json(summary)
    else:
        from aecli.report import print_inspect

        print_inspect(summary, str(model_path))


@app.command()
def kinds(json_out: Json = False) -> None:
    """List the kinds of autoencoder and what each one's preset sets."""
    from aecli.kinds import KINDS

    if json_out:
        _emit_json({k.name: {"summary": k.summary, "preset": k.preset} for k in KINDS.values()})
        return
    for k in KINDS.values():
        preset = ", ".join(f"{n}={v}" for n, v in k.preset.items())
        print(f"{k.name:14} {k.summary}  [{preset}]")


def main() -> None:
    """Console-script entry point."""
    app()
