"""Every example in the README runs: each ```bash and ```python block, in the README's order, in one working
folder, so an example that stops working fails CI.

The folder holds a link to ``experiments/`` (the example configs) and, when ``../shared/data/real`` is there, a
link to each real file (of every subfolder) under the name the README uses; blocks that read real files (or
the table imported from them) are skipped without it. Python blocks share one namespace, as in a notebook.
Shell blocks run as written, with bash (``set -e``), except for what would make a test run for hours, changed
openly here:

- ``make run`` and ``make test`` are checked with ``make -n`` (CI runs ``make test`` itself);
- ``train``, ``evaluate``, ``run`` and ``sweep`` get ``--set`` overrides that shrink training to two PPO
  rollouts and evaluation to four days;
- ``deploy`` runs 3 cycles of 0.2 s instead of ``--cycles N`` of ``--cycle-s S``;
- ``benchmark run`` runs one seed on one test day with 256 training steps, ``benchmark tune`` one trial of
  256 steps scored on two days.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_DATA

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REAL_FILES = {p.name: p for p in REAL_DATA.rglob("*") if p.is_file()} if REAL_DATA.is_dir() else {}
REAL_NAMES = sorted(REAL_FILES)
SMALL = ("--set train.total_steps=1024 --set train.n_envs=2 --set train.hyperparameters.n_steps=512 "
         "--set train.eval_every_steps=1024 --set train.eval_days=2 --set train.checkpoint_every_steps=1024 "
         "--set evaluate.days=4")


def readme_blocks() -> list[tuple[str, int, str]]:
    """(language, line of the opening fence, text) of every bash and python block."""
    blocks, lang, start, lines = [], None, 0, []
    for number, line in enumerate(README.read_text().splitlines(), start=1):
        if line.startswith("```"):
            if lang is None:
                lang, start, lines = line[3:].strip() or "text", number, []
            else:
                if lang in ("bash", "python"):
                    blocks.append((lang, start, "\n".join(lines)))
                lang = None
        elif lang is not None:
            lines.append(line)
    return blocks


def needs_real_data(text: str) -> bool:
    return "real20" in text or any(name in text for name in REAL_NAMES) or "_Stunde.csv" in text


def shell_for_test(text: str) -> str:
    """The block with the changes of the module docstring."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        command = line.split("#", 1)[0].rstrip()
        if re.match(r"\s*make (run|test)\b", command):
            command = command.replace("make ", f"make -n -C {ROOT} ", 1)
        if re.search(r"\bbessgym (train|evaluate|run|sweep)\b", command):
            command += " " + SMALL
        if re.search(r"\bbessgym benchmark run\b", command):
            command = re.sub(r"--(seeds|days|train-steps) \d+", "", command).replace("--quick", "")
            command += " --seeds 1 --days 1 --train-steps 256"
        if re.search(r"\bbessgym benchmark tune\b", command):
            command = re.sub(r"--(trials|train-steps|validation-days) \d+", "", command)
            command += " --trials 1 --train-steps 256 --validation-days 2"
        if re.search(r"\bbessgym deploy\b", command):
            command = re.sub(r"--cycles \d+", "--cycles 3", command)
            command = re.sub(r"--cycle-s [\d.]+", "", command) + " --cycle-s 0.2"
        out.append(command)
    return "set -euo pipefail\n" + "\n".join(out)


BLOCKS = readme_blocks()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("readme")
    (work / "experiments").symlink_to(ROOT / "experiments")
    for name, path in REAL_FILES.items():  # as a user has them: downloaded into one folder
        (work / name).symlink_to(path)
    return work


@pytest.fixture(scope="module")
def namespace() -> dict:
    return {"__name__": "readme"}


def test_the_readme_has_examples():
    langs = [lang for lang, _, _ in BLOCKS]
    assert langs.count("bash") >= 5 and langs.count("python") >= 4


@pytest.mark.parametrize(("lang", "line", "text"), BLOCKS, ids=[f"{lang}-line{line}" for lang, line, _ in BLOCKS])
def test_readme_example_runs(lang, line, text, workdir, namespace, monkeypatch):
    if needs_real_data(text) and not REAL_NAMES:
        pytest.skip(f"README line {line} reads the real files, not found at {REAL_DATA}")
    monkeypatch.chdir(workdir)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}", "BESSGYM_CACHE": str(workdir / ".cache"),
           "COLUMNS": "160", "PYTHONPATH": str(ROOT)}
    if lang == "python":
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        exec(compile(text, f"README.md:{line}", "exec"), namespace)
        return
    script = shell_for_test(text)
    done = subprocess.run(["bash", "-c", script], cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (f"README line {line} failed ({done.returncode}):\n{script}\n--- stdout\n"
                                  f"{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")
