"""The one checkpoint format, as plain records: a safetensors file of named tensors whose header
holds one JSON object (format, format version, and whatever the library puts there).

The store knows nothing of models: it writes a record atomically, and reads one back lazily, so
the library can validate the JSON and the tensors' declared shapes before a byte of tensor data
is loaded. Nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from aecli.errors import CheckpointError
from aecli.store.atomic import atomic_path
from aecli.store.header import parse_metadata


@dataclass(frozen=True)
class Format:
    """A kind of record: the header key its JSON lives under, its name and version."""

    key: str
    name: str
    version: int
    what: str  # how messages name such a file


# Format 2: options gained the CSV dialect (saving.py migrates format-1 files on load).
MODEL_FORMAT = Format("aecli", "aecli", 3, "an aecli checkpoint")


def write_record(
    path: str | os.PathLike[str],
    meta: dict[str, Any],
    tensors: dict[str, torch.Tensor],
    fmt: Format = MODEL_FORMAT,
    force: bool = False,
) -> Path:
    """Write `tensors` and the JSON `meta` (its format fields added) to `path`, atomically."""
    header = {"format": fmt.name, "format_version": fmt.version, **meta}
    flat = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    target = Path(path)
    with atomic_path(target, force) as tmp:
        save_file(flat, str(tmp), metadata={fmt.key: json.dumps(header, sort_keys=True)})
    return target


class RecordReader:
    """An open record: its checked JSON `meta`, tensor `shapes`, and `tensor(name)` on demand."""

    def __init__(self, handle: Any, meta: dict[str, Any], target: Path) -> None:
        self._handle, self.meta, self.target = handle, meta, target
        self.shapes = {k: tuple(handle.get_slice(k).get_shape()) for k in handle.keys()}  # noqa: SIM118 (not a dict)

    def tensor(self, name: str) -> torch.Tensor:
        return self._handle.get_tensor(name)


def read_format(path: str | os.PathLike[str]) -> str | None:
    """The `format` a safetensors file's header declares (any known key), or None."""
    with open_record(path, None) as record:
        return record.meta.get("format")


@contextmanager
def open_record(
    path: str | os.PathLike[str], fmt: Format | None = MODEL_FORMAT
) -> Iterator[RecordReader]:
    """Open a record for reading; every failure to parse it is one CheckpointError line.

    With `fmt` None, the header is returned unchecked (to find out which format a file is)."""
    target = Path(path)
    if not target.is_file():
        raise CheckpointError(f"{target}: no such checkpoint file; check the path")
    try:
        with safe_open(str(target), framework="pt") as handle:
            header = handle.metadata() or {}
            if fmt is None:
                meta = _any_header(header)
            else:
                meta = parse_metadata(
                    header, target, key=fmt.key, fmt=fmt.name, version=fmt.version, what=fmt.what
                )
            yield RecordReader(handle, meta, target)
    except SafetensorError as exc:
        raise CheckpointError(
            f"{target} is not a readable safetensors checkpoint ({exc}); it may be truncated"
        ) from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{target} could not be read as a checkpoint ({exc})") from None


def _any_header(header: dict[str, str]) -> dict[str, Any]:
    for text in header.values():
        try:
            meta = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(meta, dict) and isinstance(meta.get("format"), str):
            return meta
    return {}
