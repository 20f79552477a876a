"""What the commands share: option types, the flags every command has (as one `Common` object),
stdout rules, the flags generated from TrainOptions, and the signal handling that lets training
stop cleanly. No torch here."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.cli.completion import choices_completer, complete_kinds, complete_models
from aecli.errors import UserError
from aecli.options import TrainOptions


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- option types shared by commands ---

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors on stderr.")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
LogEvery = Annotated[
    float,
    typer.Option(
        "--log-every",
        metavar="SECONDS",
        min=0,
        help="When stderr is not a terminal: a progress line every SECONDS (0: every step).",
    ),
]
Keep = Annotated[
    list[str] | None,
    typer.Option(
        "--keep", metavar="COL", help="Copy this column through unchanged (repeatable), e.g. an id."
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option("--out-dir", metavar="DIR", help="Images: the folder to write the images to."),
]
Recursive = Annotated[
    bool, typer.Option("--recursive", help="Images: also read the folder's subfolders.")
]
ShardOption = Annotated[
    str | None,
    typer.Option(
        "--shard",
        metavar="I/N",
        help="Only the I-th of N contiguous parts of the input (numbered from 0): its rows, or "
        "the files of a folder or glob. The N outputs, concatenated, equal the whole one.",
    ),
]
ModelPath = Annotated[
    str,
    typer.Argument(
        metavar="MODEL",
        help="A checkpoint written by `aecli train`, or a built-in model's name.",
        autocompletion=complete_models,
    ),
]


def show_warnings(quiet: bool) -> None:
    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not quiet:
            say(f"warning: {message}")

    warnings.showwarning = show


def emit_json(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, indent=2, default=str))


@dataclass
class Common:
    """The flags every command that writes shares: --force, --quiet, --json, --log-every."""

    force: bool = False
    quiet: bool = False
    json: bool = False
    log_every: float = 30.0

    def progress(self, what: str) -> Any:
        """Progress of the work inside `with common.progress("encode"):` on stderr."""
        from aecli.cli.progress import Progress

        return Progress(what, self.quiet, self.log_every)

    def __post_init__(self) -> None:
        show_warnings(self.quiet)

    def say(self, message: str) -> None:
        """A line for people on stderr, unless --quiet or --json."""
        if not self.quiet and not self.json:
            say(message)

    def stdout_free(self, target: str, what: str) -> None:
        """--json prints on stdout, so the data must go to a file."""
        if self.json and target == "-":
            raise UserError(f"--json prints on stdout, which carries the {what}; add -o FILE")

    def table_target(self, output: str | None, inputs: list[Any], what: str) -> str:
        """-o FILE, or stdout when absent or '-'; refused before any work if it would clobber."""
        from aecli.store.atomic import check_output

        target = "-" if output in (None, "-") else str(output)
        self.stdout_free(target, what)
        check_output(target, self.force, inputs=inputs)
        return target

    def finish(self, summary: dict[str, Any], line: str | None) -> None:
        """The --json summary (stdout), or the closing `line` for people (stderr)."""
        if self.json:
            emit_json(summary)
        elif line:
            self.say(line)

    def wrote(self, written: Any, noun: str, verb: str) -> None:
        """Report a write (an adapter's `Written`): the --json summary, or a line on stderr."""
        if written is not None:
            line = f"{verb} {written.count} {noun} -> {written.where}" if written.where else None
            self.finish(written.summary, line)

    def write_result(
        self, model: Any, result: Any, targets: Any, inputs: list[Any], verb: str
    ) -> None:
        """Write a table or images through the model's data adapter, then report."""
        adapter = model.adapter
        written = quiet_pipe(lambda: adapter.write(result, targets, self.force, inputs))
        self.wrote(written, adapter.noun, verb)

    def write_table(self, frame: Any, target: str, verb: str) -> None:
        """Write a table (codes, scores), or an iterable of its blocks, to `target` ('-':
        stdout), then report."""
        from aecli.data.tables import write_frame

        self.wrote(quiet_pipe(lambda: write_frame(frame, target, self.force)), "rows", verb)


def quiet_pipe(write: Callable[[], Any]) -> Any:
    """Run `write`; a closed stdout (`aecli encode ... | head`) ends quietly, as csvkit does."""
    try:
        return write()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return None


# --- train: its flags come from the TrainOptions dataclass ---------------------------------------


def option_parameters(options: type = TrainOptions) -> list[inspect.Parameter]:
    """One keyword parameter (a Typer option) per field of the `options` dataclass."""
    params = []
    for f in dataclasses.fields(options):
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
            annotation = {
                "str | None": str | None,
                "int": int,
                "float": float,
                "str": str,
                "bool": bool,
            }.get(annotation, annotation)
        metavar = {int: "N", float: "X", int | None: "N", float | None: "X"}.get(annotation, "TEXT")
        if meta["cli"] != "value":
            metavar = "SIZES" if meta["cli"] == "intlist" else "COL"
        elif meta["choices"]:
            metavar = "|".join(c for c in meta["choices"] if c != "none")
        metavar = meta.get("metavar") or metavar
        help_text = meta["help"]
        completer = complete_kinds if f.name == "kind" else None
        if meta["choices"]:
            completer = choices_completer(meta["choices"])
        params.append(
            inspect.Parameter(
                f.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[
                    annotation,
                    typer.Option(
                        *flags,
                        metavar=metavar,
                        help=help_text,
                        rich_help_panel=meta.get("panel"),
                        autocompletion=completer,
                    ),
                ],
            )
        )
    return params


def with_train_options(
    func: Callable[..., None], options: type = TrainOptions
) -> Callable[..., None]:
    """Give `func` one CLI flag per TrainOptions field, declared once in options.py."""
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    params = own + option_parameters(options)
    func.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func


def with_run_options(func: Callable[..., None]) -> Callable[..., None]:
    """Give a command that runs a model --device and --precision (run_options.py), which reach
    its `**run` keyword arguments."""
    from aecli.run_options import RunOptions

    return with_train_options(func, RunOptions)


def given_options(ctx: typer.Context, options: dict[str, Any]) -> dict[str, Any]:
    """The training options given as flags on the command line (not left at their default),
    as TrainOptions values: '128,64' -> (128, 64), a repeated flag -> a tuple."""
    from aecli.options import parse_int_list

    given = {}
    for f in dataclasses.fields(TrainOptions):
        source = ctx.get_parameter_source(f.name)
        if source is None or source.name == "DEFAULT":
            continue
        value = options[f.name]
        if f.metadata["cli"] == "intlist":
            value = parse_int_list(value, "--" + f.name)
        elif f.metadata["cli"] == "multi":
            value = tuple(value or ())
        given[f.name] = value
    return given


class StopOnSignal:
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
            say("stopping after this batch and saving progress (again to abort without saving)")

    def __enter__(self) -> StopOnSignal:
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
