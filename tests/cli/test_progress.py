"""Progress on stderr when it is not a terminal (a batch job's log): a plain line every
--log-every seconds with the step count, epoch, losses, best so far and time left; none with
--quiet, none for quick work at the default interval."""

from __future__ import annotations

import io
import re
import subprocess
import sys

from aecli.cli.progress import Progress, clock
from aecli.progress import Tick, listening, tick
from conftest import SAMPLE

LINE = re.compile(
    r"^train: (\d+)/(\d+) steps \(\d+%\), epoch (\d+)/(\d+)(, train loss \S+, val loss \S+, "
    r"best \S+ \(epoch \d+\))?, \d+ (s|min \d+ s) elapsed(, about .+ left)?$"
)


def aecli(*args: object, stderr_file) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aecli", *map(str, args)],
        stderr=stderr_file,
        stdout=subprocess.PIPE,
        text=True,
        timeout=300,
    )


def test_training_logs_plain_progress_lines_to_a_file(tmp_path):
    log = tmp_path / "train.log"
    with log.open("w") as err:
        run = aecli(
            "train",
            SAMPLE / "wine.csv",
            "-o",
            tmp_path / "m.safetensors",
            "--steps",
            "40",
            "--hidden",
            "8",
            "--log-every",
            "0",
            stderr_file=err,
        )
    assert run.returncode == 0, log.read_text()
    lines = [line for line in log.read_text().splitlines() if line.startswith("train: ")]
    steps = [line for line in lines if " steps " in line]
    assert len(steps) >= 20, lines[:5]  # one per optimiser step at --log-every 0
    for line in steps:
        assert LINE.match(line), line
    done = [int(LINE.match(line).group(1)) for line in steps]
    assert done == sorted(done) and done[-1] == int(LINE.match(steps[-1]).group(2))
    with_losses = [line for line in steps if "val loss" in line]
    assert with_losses and "left" in with_losses[0]
    assert "\x1b[" not in log.read_text()  # no terminal control codes in a log file
    assert "trained undercomplete" in log.read_text()  # the summary still follows

    quiet = tmp_path / "quiet.log"
    with quiet.open("w") as err:
        run = aecli(
            "encode",
            tmp_path / "m.safetensors",
            SAMPLE / "wine.csv",
            "--quiet",
            "--log-every",
            "0",
            stderr_file=err,
        )
    assert run.returncode == 0 and quiet.read_text() == ""
    assert run.stdout.startswith("z1,")


def test_the_default_interval_keeps_quick_work_silent_and_passes_restart():
    out = io.StringIO()
    with Progress("encode", every=30.0, stream=out, terminal=False):
        for done in range(0, 1001, 100):
            tick(done, 1000, "rows")
    assert out.getvalue() == ""
    out = io.StringIO()
    with Progress("denoise", every=0.0, stream=out, terminal=False) as progress:
        tick(50, 100, "rows")
        tick(10, 100, "rows")  # a second round starts over
    assert progress.lines == 2
    first, second = out.getvalue().splitlines()
    assert first.startswith("denoise: 50/100 rows (50%), ")
    assert second.startswith("denoise: 10/100 rows (10%), ")
    with Progress("x", quiet=True, every=0.0, stream=out, terminal=False) as silent:
        tick(1, 2)
    assert silent.lines == 0


def test_ticks_go_to_the_listener_only_inside_its_block():
    seen: list[Tick] = []
    with listening(seen.append):
        tick(1, 2, "images", epoch=1)
    tick(2, 2)
    assert seen == [Tick(1, 2, "images", {"epoch": 1})]
    assert clock(5) == "5 s" and clock(185) == "3 min 05 s" and clock(7440) == "2 h 04 min"


def test_inspect_shows_the_loss_sparkline_and_the_training_time(shared_model, runner):
    from aecli.cli.render import sparkline
    from conftest import invoke

    result = invoke(runner, "inspect", shared_model)
    assert result.exit_code == 0, result.output
    assert "training time" in result.stdout and re.search(r"\d+\.\d s", result.stdout)
    assert re.search(r"validation loss\s+│ [▁▂▃▄▅▆▇█]{10,}", result.stdout)
    assert sparkline([3.0, 2.0, 1.0, 1.0]) == "█▅▁▁"
    assert len(sparkline([float(i) for i in range(500)])) == 30
