"""Safe outputs: checked before work starts, written to a temporary file beside the target,
flushed, then moved into place in one step, so a failed or interrupted run leaves no partial file
and never clobbers an existing one without --force."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from aecli.errors import OutputExistsError, UserError

STDIO = "-"


def check_output(
    path: str | os.PathLike[str] | None, force: bool, inputs: Iterable[str | os.PathLike[str]] = ()
) -> None:
    """Refuse, before any work is done, an output that would clobber a file or an input."""
    if path is None or str(path) == STDIO:
        return
    target = Path(path)
    for source in inputs:
        if str(source) != STDIO and Path(source).exists() and _same_file(Path(source), target):
            raise UserError(
                f"output {target} is the same file as input {source}; choose another -o"
            )
    if target.is_dir():
        raise UserError(f"output {target} is a folder; give a file name")
    if target.exists() and not force:
        raise OutputExistsError(
            f"{target} already exists; pass --force to overwrite it, or choose another output"
        )
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:  # a missing folder is made when the file is written, as --out-dir does
        raise UserError(f"{blocker} is a file, not a folder; choose another output")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], force: bool = False) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success move it onto `path` atomically.

    Without `force` the final move refuses to replace a file that appeared meanwhile.
    """
    target = Path(path)
    check_output(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # fails if the target exists: no clobbering, even in a race
            except FileExistsError:
                raise OutputExistsError(
                    f"{target} appeared while aecli was working; pass --force to overwrite it"
                ) from None
            except OSError:
                os.replace(tmp, target)  # file systems without hard links
        _fsync_dir(target.parent)
    finally:
        tmp.unlink(missing_ok=True)


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
