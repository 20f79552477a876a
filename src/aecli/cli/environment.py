"""`aecli env`: the versions, devices, threads and distributed settings, for bug reports."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from aecli.cli.app import app
from aecli.cli.support import Json, emit_json

LIBRARIES = ("torch", "numpy", "pandas", "pyarrow", "pillow", "safetensors", "typer", "dask")
DISTRIBUTED_VARIABLES = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _devices() -> list[str]:
    import torch

    found = ["cpu"]
    if torch.cuda.is_available():
        found += [
            f"cuda:{i} ({torch.cuda.get_device_name(i)})" for i in range(torch.cuda.device_count())
        ]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        found.append("mps")
    return found


def environment() -> dict[str, Any]:
    """What a bug report needs: versions, devices seen, threads, distributed variables."""
    import torch

    return {
        "aecli": _version("aecli"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "devices": _devices(),
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "distributed": {v: os.environ[v] for v in DISTRIBUTED_VARIABLES if v in os.environ},
    }


@app.command("env")
def env(json_out: Json = False) -> None:
    """Print versions, devices and threads, for bug reports."""
    found = environment()
    if json_out:
        emit_json(found)
        return
    for key in ("aecli", "python", "platform"):
        print(f"{key:12} {found[key]}")
    for name, version in found["libraries"].items():
        print(f"{name:12} {version or '-'}")
    print(f"{'devices':12} {', '.join(found['devices'])}")
    print(f"{'threads':12} {found['threads']} (of {found['cpus']} CPUs)")
    dist = found["distributed"]
    print(f"{'distributed':12} {' '.join(f'{k}={v}' for k, v in dist.items()) or '-'}")
