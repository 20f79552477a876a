"""Shell completion through the installed entry point, as bash, zsh and fish ask for it: kinds,
option choices, built-in models beside checkpoints, and files left to the shell."""

from __future__ import annotations

import os
import subprocess
import sys


def complete(shell: str, words: str, cwd=None) -> str:
    env = {**os.environ, "_AECLI_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        parts = words.split(" ")
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1))
    else:
        env.update(_TYPER_COMPLETE_ARGS=words, _TYPER_COMPLETE_FISH_ACTION="get-args")
    run = subprocess.run(
        [sys.executable, "-m", "aecli"], env=env, capture_output=True, text=True, cwd=cwd
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


def test_kinds_and_option_choices_complete_in_bash_zsh_and_fish():
    assert complete("bash", "aecli train data.csv --kind ").split() == [
        "undercomplete",
        "linear",
        "sparse",
        "denoising",
        "contractive",
        "vae",
        "denoiser",
    ]
    assert complete("bash", "aecli train data.csv --likelihood b").split() == ["bernoulli"]
    zsh = complete("zsh", "aecli train data.csv --kind va")
    assert zsh.startswith("_arguments") and '"vae":"Variational' in zsh
    fish = complete("fish", "aecli train data.csv --kind den")  # one line per completion
    assert [line.split("\t")[0] for line in fish.splitlines()] == ["denoising", "denoiser"]
    assert all(len(line) < 80 for line in fish.splitlines())


def test_models_complete_built_in_names_and_checkpoints_and_data_falls_back_to_files(tmp_path):
    (tmp_path / "photos.safetensors").write_bytes(b"")
    (tmp_path / "photos.csv").write_text("a\n1\n")
    assert complete("bash", "aecli denoise ph", tmp_path).split() == ["photo", "photos.safetensors"]
    assert complete("bash", "aecli encode ph", tmp_path).split() == ["photo", "photos.safetensors"]
    # nothing offered for DATA: bash (complete -o default), zsh (_files) and fish complete paths
    assert complete("bash", "aecli encode m.safetensors ph", tmp_path).strip() == ""
    assert complete("zsh", "aecli encode m.safetensors ph", tmp_path).strip() == "_files"


def test_the_completion_scripts_for_each_shell():
    for shell, marker in [
        ("bash", "complete -o default"),
        ("zsh", "compdef"),
        ("fish", "complete"),
    ]:
        run = subprocess.run(
            [sys.executable, "-m", "aecli", "--show-completion", shell],
            env={**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0 and marker in run.stdout and "_AECLI_COMPLETE" in run.stdout
