import json
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "aecli", "env", *args], capture_output=True, text=True, check=True
    )


def test_env_json_names_versions_devices_and_distributed_variables(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    found = json.loads(_run("--json").stdout)
    assert found["python"] == sys.version.split()[0]
    assert found["libraries"]["torch"]
    assert "cpu" in found["devices"]
    assert found["threads"] >= 1
    assert found["distributed"] == {"WORLD_SIZE": "2"}


def test_env_human_lines():
    out = _run().stdout
    assert out.startswith("aecli ")
    assert "devices" in out and "cpu" in out
