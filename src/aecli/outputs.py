"""Where results go: the checkpoint and resume-file names `train` uses, the targets of decode,
sample and denoise, and denoising image files into a folder. Library functions, so Python users
get what the command line does."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aecli.errors import UserError
from aecli.store.atomic import STDIO, check_output

RESUME_SUFFIX = ".resume.safetensors"


@dataclass
class TrainOutputs:
    """The checkpoint `train` writes and the resumable progress file beside it."""

    checkpoint: Path
    progress: Path


def resume_path(checkpoint: Path) -> Path:
    """The resumable progress file of a run writing `checkpoint`: NAME.resume.safetensors."""
    return checkpoint.with_name(checkpoint.stem + RESUME_SUFFIX)


def train_outputs(
    data: Any, output: str | os.PathLike[str] | None, resume: Path | None, force: bool
) -> TrainOutputs:
    """Check, before any work, where training will write: `output` (default: the data's name
    with .safetensors, in the current folder) and its progress file (or `resume`)."""
    if output is None:
        if not isinstance(data, str | os.PathLike) or str(data) == STDIO or _is_glob(str(data)):
            raise UserError("name the checkpoint with -o FILE.safetensors")
        output = Path(Path(data).name).with_suffix(".safetensors")
    checkpoint = Path(output)
    check_output(checkpoint, force, inputs=[data] if isinstance(data, str | os.PathLike) else [])
    progress = resume or resume_path(checkpoint)
    if resume is None and progress.exists() and not force:
        raise UserError(
            f"{progress} holds an interrupted run; continue it with --resume {progress}, "
            "or pass --force to start over"
        )
    if resume is not None and not resume.is_file():
        raise UserError(f"--resume {resume}: no such file")
    return TrainOutputs(checkpoint, progress)


def _is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def image_jobs(
    data: str | os.PathLike[str],
    output: str | None,
    out_dir: Path | None,
    force: bool,
    recursive: bool = False,
) -> list[tuple[Path, Path]]:
    """(source, target) for denoising images: one image to `-o FILE`, or a folder or glob into
    `out_dir` with names kept relative to the folder; every target checked before any work."""
    from aecli.data.image_files import find_images, image_targets

    source = Path(data)
    sources = find_images(source, recursive)
    if source.is_file() and out_dir is None:
        if output in (None, STDIO):
            raise UserError("give the denoised image a name with -o FILE (or --out-dir DIR)")
        check_output(output, force, inputs=sources)
        return [(sources[0], Path(str(output)))]
    if out_dir is None:
        raise UserError(f"{data} names several images: give --out-dir DIR for the results")
    root = source if source.is_dir() else Path(os.path.commonpath([p.parent for p in sources]))
    names = [p.relative_to(root).as_posix() for p in sources]
    return list(zip(sources, image_targets(out_dir, names, force, sources), strict=True))


def denoise_images(
    model: Any,
    jobs: Sequence[tuple[Path, Path]],
    force: bool = False,
    quality: int = 95,
) -> Iterator[tuple[Path, Path]]:
    """Denoise each source image into its target with `model.denoise_image`, keeping each
    file's size, mode and format; yields each (source, target) as it is written."""
    from aecli.data.image_rewrite import rewrite_image
    from aecli.progress import tick

    clean: Callable[[Any], Any] = model.denoise_image
    for i, (source, target) in enumerate(jobs):
        rewrite_image(source, target, clean, force=force, quality=quality)
        tick(i + 1, len(jobs), "images")
        yield source, target


@dataclass
class Repaired:
    """What `repair` wrote: the output files, rows, and for tables the cells changed."""

    outputs: list[str]
    rows: int
    cells: int | None = None
    rounds: int | None = None  # of iterated reconstruction chosen for a table


def repair(
    model: Any,
    data: Any,
    *,
    output: str | None = None,
    out_dir: Path | None = None,
    mask_out: Path | None = None,
    all_cells: bool = False,
    iterations: int | None = None,
    quality: int = 95,
    recursive: bool = False,
    force: bool = False,
    on_item: Callable[[Path, Path], None] | None = None,
) -> Repaired:
    """`aecli denoise`: images (a file, folder or glob) are cleaned into `output` / `out_dir`
    keeping their format; a table has its missing cells filled (every cell with `all_cells`)
    into `output` ('-' or None: stdout), with the filled cells marked in `mask_out`."""
    from aecli.data import adapter_for

    inputs = [data, *([str(mask_out)] if mask_out else [])]
    if adapter_for(data).type == "images":
        adapter = getattr(model, "adapter", None)  # built-in denoisers have none: any image
        if adapter is not None:
            adapter.require("images", "denoising images")
        jobs = image_jobs(data, output, out_dir, force, recursive)
        done = []
        for source, target in denoise_images(model, jobs, force, quality):
            done.append(str(target))
            if on_item is not None:
                on_item(source, target)
        return Repaired(done, len(done))
    if out_dir is not None:
        raise UserError("--out-dir is for images; for a table use -o FILE")
    target = STDIO if output in (None, STDIO) else str(output)
    check_output(target, force, inputs=inputs)
    if mask_out is not None:
        check_output(mask_out, force, inputs=[*inputs, target])
    from aecli.data.table_files import table_sink
    from aecli.imputation import repair_blocks

    model.adapter.require("table", "filling missing cells")
    blocks = repair_blocks(model, data, all_cells=all_cells, iterations=iterations, seed=0)
    rounds, cells = None, 0
    with table_sink(target, force) as sink, _mask_sink(mask_out, force) as masks:
        for table, mask in blocks:
            if masks is not None:
                masks.write(mask.astype(int))
            sink.write(table)
            cells += int(mask.to_numpy().sum())
            rounds = mask.attrs.get("rounds")
    return Repaired([target], sink.rows, cells, rounds)


@contextlib.contextmanager
def _mask_sink(mask_out: Path | None, force: bool) -> Iterator[Any]:
    """The sink of `denoise --mask-out`, or None without it."""
    if mask_out is None:
        yield None
        return
    from aecli.data.table_files import table_sink

    with table_sink(str(mask_out), force) as sink:
        yield sink


def per_file_targets(data: Any, out_dir: Path, force: bool) -> list[tuple[str, Path]]:
    """(input file, output file) for each file of a table input (a folder, glob or one file):
    the same relative names under `out_dir`, every target checked before any work."""
    from aecli.data.table_sources import table_files

    files = table_files(data)
    if str(data) == STDIO:
        raise UserError("--out-dir writes one file per input file; stdin is none: use -o FILE")
    jobs = [(one.path, out_dir / one.name) for one in files]
    sources = [one.path for one in files]
    for _, target in jobs:
        check_output(target, force, inputs=sources)
    return jobs
