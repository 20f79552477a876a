"""Every command's two outputs: the human one (a summary on stderr, stdout left for data) and the
`--json` one (one JSON object on stdout with the figures a script needs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLE, invoke

PENGUINS = SAMPLE / "penguins.csv"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("outputs")
    args = ["train", PENGUINS, "-o", folder / "m.safetensors", "--steps", "40", "--quiet"]
    assert invoke(CliRunner(), *args).exit_code == 0
    codes = ["encode", folder / "m.safetensors", PENGUINS, "-o", folder / "codes.csv"]
    assert invoke(CliRunner(), *codes).exit_code == 0
    return folder


# command -> (arguments, a key the JSON object must hold, a phrase the human output must hold)
COMMANDS = {
    "train": (
        ["train", PENGUINS, "-o", "{w}/t.safetensors", "--steps", "20"],
        "pca_val_mse",
        "PCA",
    ),
    "encode": (["encode", "{w}/m.safetensors", PENGUINS, "-o", "{w}/c.csv"], "rows", "344 rows"),
    "decode": (["decode", "{w}/m.safetensors", "{w}/codes.csv", "-o", "{w}/r.csv"], "rows", "344"),
    "denoise": (
        ["denoise", "{w}/m.safetensors", PENGUINS, "-o", "{w}/d.csv"],
        "cells_filled",
        "19",
    ),
    "sample": (["sample", "{w}/m.safetensors", "-n", "7", "-o", "{w}/s.csv"], "rows", "7"),
    "inspect": (["inspect", "{w}/m.safetensors"], "architecture", "undercomplete"),
    "evaluate": (["evaluate", "{w}/m.safetensors", PENGUINS], "per_feature", "species"),
    "score": (
        ["score", "{w}/m.safetensors", PENGUINS, "-o", "{w}/sc.csv"],
        "threshold",
        "scored 344 rows (likelihood)",
    ),
    "report": (["report", "{w}/m.safetensors", "-o", "{w}/r.html"], "output", "wrote report"),
    "env": (["env"], "libraries", "torch"),
    "kinds": (["kinds"], "vae", "contractive"),
    "models": (["models"], "photo", "photo"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_human_and_json_outputs(command, work, runner):
    args, key, phrase = COMMANDS[command]
    args = [str(a).replace("{w}", str(work)) for a in args]
    human = invoke(runner, *args, "--force") if "-o" in args else invoke(runner, *args)
    assert human.exit_code == 0, human.stderr
    told = human.stdout + human.stderr
    assert phrase in told
    if command == "evaluate":  # the likelihood row says why the model's cell is empty
        assert "VAE only" in told
    if "-o" in args:  # stdout stays free for data when the output goes to a file
        assert human.stdout == ""
    machine = invoke(runner, *args, "--json", *(["--force"] if "-o" in args else []))
    assert machine.exit_code == 0, machine.stderr
    summary = json.loads(machine.stdout)
    assert key in summary
