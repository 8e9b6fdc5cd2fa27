"""Interrupted runs, with real signals to real processes: `train` stops at the next step with a checkpoint on
SIGINT (also as a background job, which starts with SIGINT ignored) and on SIGTERM, and resumes, also from a
checkpoint at the last step; a sweep stops at once on SIGINT without starting queued points, and its workers
die with it when it is killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="signals and /proc as on Linux")

SMALL = ["train_market.end=2024-01-08", "eval_market.start=2025-03-03", "eval_market.end=2025-03-06",
         "train.n_envs=2", "train.eval_every_steps=100000", "train.eval_days=1", "evaluate.days=2",
         "evaluate.dispatch_days=1", "train.hyperparameters={n_steps: 128, batch_size: 64}"]


def cli(tmp_path: Path, *args: str) -> subprocess.Popen:
    """`bessgym ARGS` as a background job would run it: its own session, SIGINT ignored at start."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


def overrides(*items: str) -> list[str]:
    return [arg for item in (*SMALL, *items) for arg in ("--set", item)]


def wait_for(condition, timeout_s: float, what: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended ({process.returncode}) before {what}: {process.stdout.read()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def finish(process: subprocess.Popen, timeout_s: float) -> tuple[int, str]:
    try:
        out, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"did not stop within {timeout_s} s: {process.communicate()[0]}") from None
    return process.returncode, out


def latest_steps(run: Path) -> int:
    path = run / "checkpoints" / "latest.json"
    return json.loads(path.read_text())["steps"] if path.exists() else 0


def test_train_stops_with_a_checkpoint_on_sigint_and_sigterm_and_resumes(tmp_path):
    run = tmp_path / "train"
    long = overrides("train.total_steps=10000000", "train.checkpoint_every_steps=256")
    process = cli(tmp_path, "train", "--out", str(run), *long)
    wait_for(lambda: latest_steps(run) > 0, 240, "the first checkpoint", process)
    process.send_signal(signal.SIGINT)  # ignored by default in a background job: the handler must catch it
    code, out = finish(process, 60)
    assert code == 130, out
    assert "interrupted" in out and "--resume" in out
    first = latest_steps(run)
    assert first >= 256 and not (run / "model").exists()

    process = cli(tmp_path, "train", "--out", str(run), "--resume", *long)
    wait_for(lambda: latest_steps(run) > first + 256, 240, "a checkpoint after the resume", process)
    process.send_signal(signal.SIGTERM)
    code, out = finish(process, 60)
    assert code == 143, out
    second = latest_steps(run)
    assert second > first

    # the checkpoint at the last step, no model yet: the resumed run finishes without training further
    done = overrides(f"train.total_steps={second}", "train.checkpoint_every_steps=256")
    code, out = finish(cli(tmp_path, "train", "--out", str(run), "--resume", *done), 240)
    assert code == 0, out
    assert (run / "model" / "policy.onnx").exists()


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def sweep(tmp_path: Path):
    """Starts a sweep that would train for hours; whatever a test leaves running of it (its session: the sweep
    and its workers) is killed at the end, also when the test fails before it stops the sweep itself."""
    started: list[subprocess.Popen] = []

    def start(seeds: list[int], workers: int) -> tuple[subprocess.Popen, Path]:
        grid = tmp_path / "grid.yaml"
        grid.write_text(yaml.safe_dump({"train.seed": seeds}))
        out = tmp_path / "sweep"
        slow = overrides("train.total_steps=10000000", "train.checkpoint_every_steps=100000",
                         "evaluate.strategies=[trained]", "name=interrupt")
        started.append(cli(tmp_path, "sweep", "--grid", str(grid), "--out", str(out), "--workers", str(workers),
                           *slow))
        return started[-1], out

    yield start
    for process in started:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # cli() starts each in its own session
        except ProcessLookupError:
            pass
        process.wait(10)


def test_sweep_stops_at_once_on_sigint_without_starting_queued_points(sweep):
    process, out = sweep([0, 1, 2], workers=1)
    wait_for(lambda: (out / "point_000" / "train").exists(), 240, "the first point to start", process)
    workers = children(process.pid)
    process.send_signal(signal.SIGINT)
    code, text = finish(process, 60)
    assert code == 130, text
    assert "interrupted" in text
    results = pd.read_csv(out / "results.csv", index_col=0)
    assert results["status"].tolist() == ["pending"] * 3  # nothing finished, nothing queued was started
    assert not (out / "point_001").exists() and not (out / "point_002").exists()
    wait_for(lambda: not any(alive(p) for p in workers), 20, "the workers to end")


def test_sweep_workers_die_with_a_killed_sweep(sweep):
    process, out = sweep([0, 1], workers=2)
    wait_for(lambda: (out / "point_000" / "train").exists() and (out / "point_001" / "train").exists(), 240,
             "both points to start", process)
    workers = children(process.pid)
    assert len(workers) >= 2
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    wait_for(lambda: not any(alive(p) for p in workers), 20, "orphaned workers and the resource tracker to end")
    assert not (out / "point_000" / "result.json").exists() and not (out / "point_001" / "result.json").exists()
