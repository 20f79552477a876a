"""The JSON header every aecli safetensors file carries: parsed and version-checked before any
tensor is read, so a file from elsewhere can neither run code nor surprise the loader."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aecli._version import __version__
from aecli.errors import CheckpointError


def parse_metadata(
    header: dict[str, str], target: Path, *, key: str, fmt: str, version: int, what: str
) -> dict[str, Any]:
    """The JSON object under `key` in a safetensors header, checked to be format `fmt` at a
    format version this aecli reads; `what` names the kind of file in messages."""
    if key not in header:
        raise CheckpointError(f"{target} is a safetensors file but not {what}")
    try:
        meta = json.loads(header[key])
    except json.JSONDecodeError:
        raise CheckpointError(f"{target}: its metadata is not valid JSON") from None
    if not isinstance(meta, dict) or meta.get("format") != fmt:
        raise CheckpointError(f"{target}: its metadata does not describe {what}")
    found = meta.get("format_version")
    if not isinstance(found, int) or isinstance(found, bool) or found < 1:
        raise CheckpointError(f"{target}: malformed format_version {found!r}")
    if found > version:
        raise CheckpointError(
            f"{target} was written by a newer aecli (format {found}, this aecli {__version__} "
            f"reads format {version}); upgrade aecli"
        )
    return meta
