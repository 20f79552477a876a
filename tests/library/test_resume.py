"""Interrupted training loses no finished work: SIGINT saves and --resume reproduces the
uninterrupted run's weights; SIGKILL leaves the last periodic checkpoint intact and resumable."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

import aecli
from conftest import SAMPLE

EXE = shutil.which("aecli", path=os.path.dirname(sys.executable)) or "aecli"
DIGITS = str(SAMPLE / "digits.csv")
OPTIONS = ["-k", "6", "--hidden", "64", "--epochs", "40", "--patience", "0", "--seed", "5"]


def start(out: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [EXE, "train", DIGITS, "-o", str(out), *OPTIONS, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, "training ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.02)


def model_tensors(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if not k.startswith("resume.")}


def resume(out: Path, progress: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, "train", DIGITS, "--resume", str(progress), "-o", str(out)],
        capture_output=True,
        text=True,
    )


def test_sigint_saves_and_resume_reproduces_the_uninterrupted_run(tmp_path):
    reference = tmp_path / "reference.safetensors"
    run = subprocess.run(
        [EXE, "train", DIGITS, "-o", str(reference), *OPTIONS], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr

    out = tmp_path / "m.safetensors"
    progress = tmp_path / "m.resume.safetensors"
    process = start(out, "--checkpoint-every", "1")
    wait_for(progress, process)
    time.sleep(0.3)  # land mid-epoch, not on a boundary
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert not out.exists() and progress.exists()

    finished = resume(out, progress)
    assert finished.returncode == 0, finished.stderr
    assert not progress.exists()  # finished work is in the output; the resume file is gone
    a, b = model_tensors(reference), model_tensors(out)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert aecli.load(out).history["records"] == aecli.load(reference).history["records"]


def test_sigkill_leaves_the_last_periodic_checkpoint_loadable_and_resumable(tmp_path):
    out = tmp_path / "m.safetensors"
    progress = tmp_path / "m.resume.safetensors"
    process = start(out, "--checkpoint-every", "2")
    wait_for(progress, process)
    time.sleep(0.5)
    process.kill()
    process.wait(timeout=30)
    model = aecli.load(progress)  # intact: the best weights so far, usable as they are
    assert model.latent_dim == 6
    finished = resume(out, progress)
    assert finished.returncode == 0, finished.stderr
    assert aecli.load(out).history["epochs_run"] == 40


def test_a_fresh_run_refuses_to_clobber_an_interrupted_one(tmp_path, runner):
    from conftest import invoke

    out = tmp_path / "m.safetensors"
    progress = tmp_path / "m.resume.safetensors"
    progress.write_bytes(b"earlier progress")
    result = invoke(runner, "train", DIGITS, "-o", out, "--steps", "10")
    assert result.exit_code == 2 and "--resume" in result.stderr
    assert progress.read_bytes() == b"earlier progress"


def test_resume_with_other_data_is_refused(tmp_path):
    out = tmp_path / "m.safetensors"
    progress = tmp_path / "m.resume.safetensors"
    process = start(out, "--checkpoint-every", "1")
    wait_for(progress, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    other = subprocess.run(
        [EXE, "train", str(SAMPLE / "wine.csv"), "--resume", str(progress), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert other.returncode == 2 and "not the data" in other.stderr
