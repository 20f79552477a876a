"""What the commands share: option types, output handling, the flags generated from
TrainOptions, and the signal handling that lets training stop cleanly. No torch here."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from aecli.errors import UserError
from aecli.options import TrainOptions


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- option types shared by commands ---

Force = Annotated[bool, typer.Option("--force", "-f", help="Overwrite an existing output file.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors on stderr.")]
Json = Annotated[bool, typer.Option("--json", help="Print a machine-readable summary on stdout.")]
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
ModelPath = Annotated[
    Path, typer.Argument(metavar="MODEL", help="A checkpoint written by `aecli train`.")
]


def show_warnings(quiet: bool) -> None:
    def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
        if not quiet:
            say(f"warning: {message}")

    warnings.showwarning = show


def emit_json(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, indent=2, default=str))


def stdout_or_file(output: str | None) -> str:
    return "-" if output in (None, "-") else str(output)


def write_output_table(frame: Any, target: str, force: bool) -> None:
    from aecli.data.table_files import write_table

    try:
        write_table(frame, target, force=force)
    except BrokenPipeError:  # `aecli encode ... | head`: end quietly, as csvkit does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


# --- train: its flags come from the TrainOptions dataclass ---------------------------------------


def option_parameters() -> list[inspect.Parameter]:
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


def with_train_options(func: Callable[..., None]) -> Callable[..., None]:
    """Give `func` one CLI flag per TrainOptions field, declared once in options.py."""
    sig = inspect.signature(func, eval_str=True)
    own = [p for p in sig.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
    params = own + option_parameters()
    func.__signature__ = sig.replace(parameters=params)  # type: ignore[attr-defined]
    func.__annotations__ = {p.name: p.annotation for p in params}
    return func


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


def progress_path(output: Path) -> Path:
    return output.with_name(output.stem + ".resume.safetensors")


def prepare_output(
    output: str | None, force: bool, quiet: bool, json_out: bool, inputs: list[Any], what: str
) -> str:
    """Resolve -o (stdout when absent or '-') and refuse clobbering before any work is done."""
    from aecli.store.atomic import check_output

    show_warnings(quiet)
    target = stdout_or_file(output)
    if json_out and target == "-":
        raise UserError(f"--json prints on stdout, which carries the {what}; add -o FILE")
    check_output(target, force, inputs=inputs)
    return target


def finish_table(
    frame: Any, target: str, force: bool, quiet: bool, json_out: bool, verb: str
) -> None:
    write_output_table(frame, target, force)
    if json_out:
        emit_json({"output": target, "rows": len(frame), "columns": list(frame.columns)})
    elif not quiet and target != "-":
        say(f"{verb} {len(frame)} rows -> {target}")


BUILTIN_MODELS = {
    "photo": "A convolutional photo denoiser (any size, gray or colour; no training)."
}


def save_images(
    named: list[tuple[str, Any]],
    out_dir: Path | None,
    grid: Path | None,
    force: bool,
    quiet: bool,
    json_out: bool,
    inputs: list[Any],
    verb: str,
) -> None:
    """Write (name, PIL image) pairs as PNGs under out_dir and/or one grid image; every target
    is checked (inside out_dir, not clobbering, not an input) before the first is written."""
    from aecli.data.images import grid as make_grid
    from aecli.data.images import write_images
    from aecli.store.atomic import check_output

    if out_dir is None and grid is None:
        raise UserError("this model makes images: give --out-dir DIR (and/or --grid FILE.png)")
    if grid is not None and grid.suffix.lower() != ".png":
        raise UserError(f"--grid {grid}: the grid is written as PNG; name it {grid.stem}.png")
    names = [name for name, _ in named]
    targets = image_targets(out_dir, names, force, inputs) if out_dir is not None else []
    if grid is not None:
        check_output(grid, force, inputs=inputs)
    images = [image for _, image in named]
    write_images(images, targets, force)
    if grid is not None:
        write_images([make_grid(images)], [grid], force)
    if json_out:
        emit_json(
            {
                "outputs": [str(t) for t in targets],
                "grid": str(grid) if grid else None,
                "images": len(images),
            }
        )
    elif not quiet:
        where = " and ".join(
            x for x in (str(out_dir) if out_dir else "", str(grid) if grid else "") if x
        )
        say(f"{verb} {len(images)} images -> {where}")


def image_targets(out_dir: Path, names: list[str], force: bool, inputs: list[Any]) -> list[Path]:
    """out_dir / name for each relative name: inside out_dir (made, with any subfolders), and
    neither an existing file (unless `force`) nor one of `inputs`; checked before any write."""
    from aecli.data.images import safe_target
    from aecli.store.atomic import check_output

    out_dir.mkdir(parents=True, exist_ok=True)
    targets = [safe_target(out_dir, name) for name in names]
    for folder in {t.parent for t in targets}:
        folder.mkdir(parents=True, exist_ok=True)
    for target in targets:
        check_output(target, force, inputs=inputs)
    return targets


def denoise_images(
    model_ref: str,
    data: Path,
    output: str | None,
    out_dir: Path | None,
    quality: int,
    force: bool,
    quiet: bool,
    json_out: bool,
    recursive: bool = False,
    model: Any = None,
) -> None:
    """A built-in photo model or an image checkpoint over one image (-o) or a folder or glob
    (--out-dir, names kept relative to the folder), every target checked up front."""
    from aecli.data.images import find_images
    from aecli.store.atomic import check_output

    sources = find_images(data, recursive)
    if data.is_file() and out_dir is None:
        if output in (None, "-"):
            raise UserError("give the denoised image a name with -o FILE (or --out-dir DIR)")
        targets = [Path(output)]
        check_output(targets[0], force, inputs=sources)
    elif out_dir is None:
        raise UserError(f"{data} names several images: give --out-dir DIR for the results")
    else:
        root = data if data.is_dir() else Path(os.path.commonpath([p.parent for p in sources]))
        names = [p.relative_to(root).as_posix() for p in sources]
        targets = image_targets(out_dir, names, force, sources)
    from aecli.models.photo import denoise_file

    denoiser = model.denoise_image if model is not None else _builtin_denoiser(model_ref)
    for source, target in zip(sources, targets, strict=True):
        denoise_file(source, target, force=force, quality=quality, denoiser=denoiser)
        if not quiet and not json_out:
            say(f"denoised {source} -> {target}")
    if json_out:
        emit_json({"model": model_ref, "outputs": [str(t) for t in targets]})


def _builtin_denoiser(name: str) -> Callable[[Any], Any]:
    """(H, W, C) -> (H, W, C) with the built-in photo model `name`."""
    from aecli.models.photo import denoise_array, load_builtin

    net = load_builtin(name)

    def photo(image: Any) -> Any:
        plane = image if image.shape[2] == 3 else image[..., 0]
        return denoise_array(plane, model=net).reshape(image.shape)

    return photo
