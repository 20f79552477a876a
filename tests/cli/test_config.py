"""`aecli train --config run.toml`: options from a TOML file, flags over it, `--print-config`,
and `aecli inspect MODEL --config`, which together reproduce a checkpoint."""

from __future__ import annotations

import tomllib

import pytest

from aecli.config import config_text, options_from, resolved_from
from aecli.parts.kinds import KINDS
from conftest import invoke, same_checkpoint

RUN = """# a run, described in a file
kind = "sparse"
latent-dim = 4          # dashes, as on the command line, or underscores
hidden = [32]
seed = 1

[train]
steps = 120
"""


def test_file_flags_print_config_and_inspect_reproduce_the_checkpoint(tmp_path, runner, wine):
    run = tmp_path / "run.toml"
    run.write_text(RUN)
    first = tmp_path / "a.safetensors"
    result = invoke(runner, "train", wine, "--config", run, "--seed", "2", "-o", first, "--quiet")
    assert result.exit_code == 0, result.stderr

    printed = invoke(runner, "train", wine, "--config", run, "--seed", "2", "--print-config")
    assert printed.exit_code == 0, printed.stderr
    resolved = tomllib.loads(printed.stdout)
    assert resolved["seed"] == 2  # the flag wins over the file
    assert resolved["latent_dim"] == 4 and resolved["hidden"] == [32] and resolved["steps"] == 120
    assert resolved["sparsity"] == "l1" and resolved["lr"] == 0.003  # the kind's preset, filled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.safetensors", "run.toml", "wine.csv"]

    from_print = tmp_path / "printed.toml"
    from_print.write_text(printed.stdout)
    second = tmp_path / "b.safetensors"
    result = invoke(runner, "train", wine, "--config", from_print, "-o", second, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert same_checkpoint(first, second)

    shown = invoke(runner, "inspect", first, "--config")
    assert shown.exit_code == 0, shown.stderr
    assert tomllib.loads(shown.stdout)["seed"] == 2
    from_inspect = tmp_path / "inspected.toml"
    from_inspect.write_text(shown.stdout)
    third = tmp_path / "c.safetensors"
    result = invoke(runner, "train", wine, "--config", from_inspect, "-o", third, "--quiet")
    assert result.exit_code == 0, result.stderr
    assert same_checkpoint(first, third)
    assert first.read_bytes()[-4096:] == third.read_bytes()[-4096:]  # the weights, to the byte


def test_under_source_date_epoch_the_round_trip_is_byte_identical(
    tmp_path, runner, wine, monkeypatch
):
    """The training time is the one field that differs between runs; the reproducible-builds
    convention SOURCE_DATE_EPOCH leaves it out, so the checkpoint is the same file."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    run = tmp_path / "run.toml"
    run.write_text(RUN)
    first = tmp_path / "a.safetensors"
    args = ["train", wine, "--config", run, "--latent-dim", "3", "-o", first, "--quiet"]
    assert invoke(runner, *args).exit_code == 0
    shown = invoke(runner, "inspect", first, "--config")
    assert "training time" not in invoke(runner, "inspect", first).stdout
    (tmp_path / "inspected.toml").write_text(shown.stdout)
    second = tmp_path / "b.safetensors"
    again = ["train", wine, "--config", tmp_path / "inspected.toml", "-o", second, "--quiet"]
    assert invoke(runner, *again).exit_code == 0
    assert first.read_bytes() == second.read_bytes()
    monkeypatch.delenv("SOURCE_DATE_EPOCH")
    third = tmp_path / "c.safetensors"
    assert invoke(runner, *again[:-3], "-o", third, "--quiet").exit_code == 0
    assert first.read_bytes() != third.read_bytes()  # the recorded time is what differed


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_resolved_options_read_back_as_themselves(tmp_path, kind):
    """What --print-config writes resolves to the same options, for every kind (a sparse
    model's `sparsity = "none"` included, which TOML cannot leave out as None)."""
    extra = {"sparsity": "none"} if kind == "sparse" else {}
    resolved = options_from(kind=kind, seed=3, drop=("x",), **extra).resolved()
    path = tmp_path / "run.toml"
    path.write_text(config_text(resolved))
    assert resolved_from(path) == resolved


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("latnt_dim = 3\n", "run.toml: unknown option 'latnt_dim'; did you mean 'latent_dim'?"),
        ('latent_dim = "3"\n', "run.toml: option latent_dim takes a whole number or None"),
        ("hidden = [32, 'x']\n", "run.toml: option hidden takes a list of whole numbers"),
        ("latent_dim = 0\n", "--latent-dim must be at least 1, not 0"),
        ("kind = vae\n", "run.toml is not valid TOML"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(tmp_path, runner, wine, text, message):
    run = tmp_path / "run.toml"
    run.write_text(text)
    result = invoke(runner, "train", wine, "--config", run, "--print-config")
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_missing_config_and_config_with_resume_are_refused(tmp_path, runner, wine):
    result = invoke(runner, "train", wine, "--config", tmp_path / "none.toml", "--print-config")
    assert result.exit_code == 2 and "no such config file" in result.stderr
    run = tmp_path / "run.toml"
    run.write_text("seed = 1\n")
    progress = tmp_path / "m.resume.safetensors"
    progress.write_bytes(b"x")
    result = invoke(
        runner, "train", wine, "--resume", progress, "--config", run, "-o", tmp_path / "m.st"
    )
    assert result.exit_code == 2 and "leave out --config" in result.stderr, result.stderr
