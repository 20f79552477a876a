"""The command line's own messages (issue 13 items 8, 9, 11, 13, 14): help without an error
wall, commands summarised in one line, train --help in panels, swapped arguments, --resume with
other options, codes wider than the model, --grid alone, pipes closed early, -o into a new
folder, model outputs at float32 precision with untouched cells written as read."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
from PIL import Image

from conftest import FAST, SAMPLE, invoke, train_model

EXE = shutil.which("aecli", path=os.path.dirname(sys.executable)) or "aecli"
COMMANDS = ("train", "encode", "decode", "denoise", "sample", "evaluate", "inspect")


def test_no_arguments_show_help_without_an_error_prefix(runner):
    result = invoke(runner)
    assert "Usage: aecli" in result.stderr
    assert not result.stderr.lower().startswith("error")
    assert "error:" not in result.stderr


def test_a_command_without_arguments_names_the_missing_one(runner):
    result = invoke(runner, "train")
    assert result.exit_code == 2
    assert not result.stderr.startswith("error:")
    assert result.stderr.strip().splitlines()[-1] == "error: missing argument DATA"


def test_every_command_has_a_one_line_summary_that_fits(runner):
    text = invoke(runner, "--help").stdout
    listed = text.split("Commands:")[1].strip().splitlines()
    assert "..." not in text.split("Commands:")[1]
    for name in COMMANDS:
        line = next(line for line in listed if line.split()[0] == name)
        assert len(line) <= 80 and line.endswith("."), line


def test_train_help_is_grouped_into_panels_with_examples(runner):
    text = invoke(runner, "train", "--help").stdout
    for panel in ("Arguments:", "Data:", "Model:", "Training:", "VAE and sampling:", "Images:"):
        assert f"\n{panel}\n" in text, panel
    assert text.index("--sep") > text.index("Data:")
    assert "Examples:\n  aecli train sample_data/wine.csv" in text


def test_swapped_arguments_are_named_as_swapped(runner, wine, shared_model):
    result = invoke(runner, "encode", wine, shared_model)
    assert result.exit_code == 2
    assert "look swapped" in result.stderr and "truncated" not in result.stderr


def test_resume_with_other_options_is_refused(tmp_path, runner, wine):
    progress = tmp_path / "m.resume.safetensors"
    progress.write_bytes(b"placeholder")
    result = invoke(
        runner, "train", wine, "--resume", progress, "-k", "4", "-o", tmp_path / "m.safetensors"
    )
    assert result.exit_code == 2
    assert "leave out --latent-dim" in result.stderr


def test_codes_wider_than_the_model_are_refused_naming_both_widths(tmp_path, runner, shared_model):
    codes = tmp_path / "wide.csv"
    pd.DataFrame(np.zeros((3, 7)), columns=[f"z{i}" for i in range(1, 8)]).to_csv(
        codes, index=False
    )
    result = invoke(runner, "decode", shared_model, codes)
    assert result.exit_code == 2
    assert "7 code columns" in result.stderr and "has 3" in result.stderr


def test_sample_grid_without_out_dir_writes_only_the_grid(tmp_path, runner):
    folder = tmp_path / "digits"
    folder.mkdir()
    for src in sorted((SAMPLE / "mnist").glob("*.png"))[:20]:
        shutil.copy(src, folder / src.name)
    model = train_model(
        runner, folder, tmp_path / "m.safetensors", "--steps", "5", "--conv", "4", "-k", "2"
    )
    result = invoke(runner, "sample", model, "-n", "4", "--grid", tmp_path / "g.png")
    assert result.exit_code == 0, result.stderr
    assert Image.open(tmp_path / "g.png").size == (2 * 28 + 2, 2 * 28 + 2)


def test_inspect_into_a_closed_pipe_exits_quietly(shared_model):
    run = subprocess.run(
        f"'{EXE}' inspect '{shared_model}' | head -n 1", shell=True, capture_output=True, text=True
    )
    assert run.returncode == 0 and run.stderr == ""
    piped = subprocess.run(
        ["bash", "-c", f"set -o pipefail; '{EXE}' inspect '{shared_model}' | head -c 10"],
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0, piped.stderr
    assert "error" not in piped.stderr


def test_output_into_a_missing_folder_is_made_like_out_dir(tmp_path, runner, wine, shared_model):
    target = tmp_path / "new" / "deeper" / "codes.csv"
    result = invoke(runner, "encode", shared_model, wine, "-o", target)
    assert result.exit_code == 0, result.stderr
    assert len(pd.read_csv(target)) == len(pd.read_csv(wine))


def test_decoded_numbers_have_float32_precision(tmp_path, runner, wine, shared_model):
    result = invoke(runner, "encode", shared_model, wine, "-o", tmp_path / "c.csv")
    assert result.exit_code == 0
    decoded = invoke(runner, "decode", shared_model, tmp_path / "c.csv").stdout
    cells = [c for line in decoded.splitlines()[1:] for c in line.split(",")]
    assert max(len(c.lstrip("-").replace(".", "")) for c in cells) <= 10  # not 16-17 digits


def test_denoise_writes_untouched_cells_as_read_and_reports_counts(tmp_path, runner):
    lines = (SAMPLE / "penguins.csv").read_text().splitlines()[:120]
    holes = tmp_path / "holes.csv"
    holes.write_text("\n".join(lines) + "\n")
    model = train_model(runner, holes, tmp_path / "m.safetensors", *FAST)
    text = holes.read_text().splitlines()
    header = text[0].split(",")
    col = header.index("body_mass_g")
    for row in (3, 5):
        cells = text[row + 1].split(",")
        cells[col] = ""
        text[row + 1] = ",".join(cells)
    holes.write_text("\n".join(text) + "\n")
    out = tmp_path / "filled.csv"
    result = invoke(runner, "denoise", model, holes, "-o", out, "--json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["cells_filled"] == int(
        pd.read_csv(holes).drop(columns="year").isna().sum().sum()
    )
    assert 1 <= summary["rounds"] <= 10
    written = out.read_text().splitlines()
    untouched = [i for i in range(1, len(text)) if i - 1 not in (3, 5) and ",," not in text[i]]
    untouched = [i for i in untouched if not text[i].endswith(",")]
    assert [written[i] for i in untouched] == [text[i] for i in untouched]
    filled = written[4].split(",")[col]
    assert filled and len(filled.replace(".", "")) <= 9
