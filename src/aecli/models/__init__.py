"""Built-in models: a registry of named checkpoints shipped in the package, consulted by
`aecli.load(name)` and every command, so a built-in is used exactly like a user's checkpoint.

A built-in registers through the same `register` call a plugin would use. No torch here: the
CLI lists the registry at start-up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path


@dataclass(frozen=True)
class Builtin:
    """A named model shipped with aecli: its file in this package and how it is used."""

    name: str
    summary: str
    file: str
    usage: str

    @property
    def path(self) -> Path:
        return Path(str(resources.files(__name__) / self.file))


REGISTRY: dict[str, Builtin] = {}


def register(entry: Builtin) -> Builtin:
    """Add a built-in model to the registry (the mechanism a plugin would use too)."""
    REGISTRY[entry.name] = entry
    return entry


def resolve(ref: str | os.PathLike[str]) -> Path:
    """The checkpoint file `ref` names: a path as given, or a registered built-in's file."""
    path = Path(ref)
    if not path.exists() and str(ref) in REGISTRY:
        return REGISTRY[str(ref)].path
    return path


register(
    Builtin(
        "photo",
        "A convolutional photo denoiser (any size, gray or colour; no training).",
        "photo.safetensors",
        "aecli denoise photo IMAGE -o OUT",
    )
)
