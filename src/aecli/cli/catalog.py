"""`aecli models` and `aecli kinds`: the built-in models and the kinds of autoencoder."""

from __future__ import annotations

from aecli.cli.app import app
from aecli.cli.support import Json, emit_json


@app.command()
def models(json_out: Json = False) -> None:
    """List the built-in models, usable wherever a command takes MODEL."""
    from aecli.models import REGISTRY

    if json_out:
        emit_json({name: entry.summary for name, entry in REGISTRY.items()})
        return
    for name, entry in REGISTRY.items():
        print(f"{name:10} {entry.summary}")


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
