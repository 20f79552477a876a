"""`torchrun --nproc-per-node 2 -m aecli train` on the CPU (gloo, localhost): one model trained
by two processes with the same global batch as one process, validation agreed, only rank 0
writing, and an interrupted two-process run resumed under torchrun to the same weights."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from safetensors.torch import load_file

import aecli

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable))
OPTIONS = ["-k", "2", "--hidden", "16", "--steps", "40", "--batch-size", "32", "--seed", "3"]
STOP_AFTER = """
import os, sys, aecli
from aecli.errors import TrainingInterrupted
calls = []
def stop():
    calls.append(1)
    return len(calls) >= 12  # the same batch on every rank
rank = os.environ["RANK"]
try:
    aecli.train(sys.argv[1], should_stop=stop, progress_path=f"progress{rank}.safetensors",
                latent_dim=2, hidden=(16,), steps=40, batch_size=32, seed=3)
except TrainingInterrupted:
    sys.exit(0)
sys.exit("training was not interrupted")
"""

pytestmark = pytest.mark.skipif(TORCHRUN is None, reason="torchrun is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(cwd: Path, *args: str, **env_vars: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **env_vars}
    command = [TORCHRUN, "--nproc-per-node", "2", "--master-port", str(free_port()), *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def table(path: Path) -> Path:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(301, 2))
    x = z @ rng.normal(size=(2, 6)) + 0.1 * rng.normal(size=(301, 6))
    pd.DataFrame(x, columns=[f"c{i}" for i in range(6)]).to_csv(path, index=False)
    return path


def weights(path: Path) -> dict[str, np.ndarray]:
    return {k: v.numpy() for k, v in load_file(str(path)).items() if not k.startswith("resume.")}


def test_two_processes_train_one_model_and_resume_under_torchrun(tmp_path):
    data = table(tmp_path / "t.csv")
    full = torchrun(tmp_path, "-m", "aecli", "train", "t.csv", *OPTIONS, "-o", "two.safetensors")
    assert full.returncode == 0, full.stderr[-3000:]
    assert full.stderr.count("saved two.safetensors") == 1  # rank 1 neither writes nor talks
    two = aecli.load(tmp_path / "two.safetensors", device="cpu")
    assert two.history["world_size"] == 2 and two.history["device"] == "cpu"
    assert two.history["steps_run"] == 40
    assert len(two.encode(data)) == 301
    one = aecli.train(data, latent_dim=2, hidden=(16,), steps=40, batch_size=32, seed=3)
    assert two.metrics["val_mse"] == pytest.approx(one.metrics["val_mse"], rel=0.05)

    (tmp_path / "stop.py").write_text(STOP_AFTER)
    stopped = torchrun(tmp_path, "stop.py", "t.csv")
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    assert (tmp_path / "progress0.safetensors").exists()
    assert not (tmp_path / "progress1.safetensors").exists()  # only rank 0 writes
    resumed = torchrun(
        tmp_path, "-m", "aecli", "train", "t.csv", "--resume", "progress0.safetensors",
        "-o", "resumed.safetensors",
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a, b = weights(tmp_path / "two.safetensors"), weights(tmp_path / "resumed.safetensors")
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=0, atol=1e-6, err_msg=name)


def test_resuming_with_another_number_of_processes_is_refused(tmp_path):
    data = table(tmp_path / "t.csv")
    (tmp_path / "stop.py").write_text(STOP_AFTER)
    stopped = torchrun(tmp_path, "stop.py", "t.csv")
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    alone = subprocess.run(
        [sys.executable, "-m", "aecli", "train", str(data), "--resume",
         str(tmp_path / "progress0.safetensors"), "-o", str(tmp_path / "one.safetensors")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert alone.returncode == 2
    assert "saved by 2 process(es)" in alone.stderr and "--nproc-per-node 2" in alone.stderr


ENSEMBLE = """
import os, sys, numpy as np, aecli, aecli.distributed as d
loops = []  # the DDP training loops this rank takes part in
joined = d.ShardFeed.__init__
d.ShardFeed.__init__ = lambda self, *a: loops.append(1) or joined(self, *a)
model = aecli.train(sys.argv[1], latent_dim=2, hidden=(16,), steps=40, batch_size=32, seed=3,
                    ensemble=2)
np.savez(f"rank{os.environ['RANK']}.npz", val_mse=model.metrics["val_mse"], loops=len(loops),
         rows=model.metrics["rows_train"], **model.extras["members"])
"""


def test_a_streamed_table_and_its_ensemble_member_train_once_under_torchrun(tmp_path, monkeypatch):
    """From the stream (each rank caching its half of the rows) with --ensemble 2: the member is
    one DDP run of both ranks (the same weights in each), not one run per rank."""
    data = table(tmp_path / "t.csv")
    (tmp_path / "ensemble.py").write_text(ENSEMBLE)
    run = torchrun(tmp_path, "ensemble.py", "t.csv", AECLI_TRAIN_MEMORY="0")
    assert run.returncode == 0, run.stderr[-3000:]
    ranks = [dict(np.load(tmp_path / f"rank{r}.npz")) for r in (0, 1)]
    assert [int(r.pop("loops")) for r in ranks] == [2, 2]  # the model's network, the member
    assert ranks[0].keys() == ranks[1].keys() and "1.enc_skip.weight" in ranks[0]
    for name in ranks[0]:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
    monkeypatch.setenv("AECLI_TRAIN_MEMORY", "0")
    one = aecli.train(data, latent_dim=2, hidden=(16,), steps=40, batch_size=32, seed=3)
    assert int(ranks[0]["rows"]) == one.metrics["rows_train"]  # every rank's rows, counted
    assert float(ranks[0]["val_mse"]) == pytest.approx(one.metrics["val_mse"], rel=0.05)


FAIL_ON_RANK_1 = """
import os, sys, aecli
calls = []
def stop():
    calls.append(1)
    if os.environ["RANK"] == "1" and len(calls) == 5:
        raise RuntimeError("rank 1 failed here")
    return False
aecli.train(sys.argv[1], should_stop=stop, progress_path="never.safetensors", latent_dim=2,
            hidden=(16,), steps=400, batch_size=32, seed=3)
"""


def test_a_failure_on_one_rank_stops_every_rank(tmp_path):
    table(tmp_path / "t.csv")
    (tmp_path / "fail.py").write_text(FAIL_ON_RANK_1)
    failed = torchrun(tmp_path, "fail.py", "t.csv")  # rank 0 must not wait for ever
    assert failed.returncode != 0
    assert "rank 1 failed here" in failed.stderr
    assert not (tmp_path / "never.safetensors").exists()
