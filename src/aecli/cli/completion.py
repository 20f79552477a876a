"""Shell completion (`aecli --install-completion` for bash, zsh and fish): kinds, the choices of
every option that has them, built-in model names beside checkpoint files; other arguments fall
back to the shell's own file-path completion. No torch here: completion runs at every Tab."""

from __future__ import annotations

import glob
from collections.abc import Callable


def complete_kinds(incomplete: str) -> list[tuple[str, str]]:
    """The kinds, each with its one-line summary."""
    from aecli.parts.kinds import KINDS

    return [(k.name, _short(k.summary)) for k in KINDS.values() if k.name.startswith(incomplete)]


def choices_completer(choices: tuple[str, ...]) -> Callable[[str], list[str]]:
    """A completer offering an option's declared choices."""

    def complete(incomplete: str) -> list[str]:
        return [c for c in choices if c.startswith(incomplete)]

    return complete


def complete_models(incomplete: str) -> list[tuple[str, str]]:
    """Built-in model names and the checkpoints (and folders) whose path starts so; none at
    all lets the shell complete any file path."""
    from aecli.models import REGISTRY

    found = [
        (b.name, _short(b.summary)) for b in REGISTRY.values() if b.name.startswith(incomplete)
    ]
    for path in sorted(glob.glob(glob.escape(incomplete) + "*")):
        if path.endswith(".safetensors"):
            found.append((path, "checkpoint"))
    return found


def _short(text: str) -> str:
    """The first clause of a help text, short enough that no shell's menu wraps it (a
    wrapped line would be offered as a completion of its own)."""
    first = text.split(";")[0].split(". ")[0].split(" (")[0].rstrip(".")
    return first if len(first) <= 60 else first[:57].rsplit(" ", 1)[0] + "..."
