"""Every example in the README and in ``docs/`` runs: each ```bash and ```python block of a page, in the page's
order, in one working folder per page, so an example that stops working fails CI.

A page is a test class (pytest-xdist's ``--dist loadscope`` keeps it on one worker, in order, while pages spread
over the workers). A page's folder holds a link to ``experiments/`` (the example configs), the outputs of the
Makefile's ``run`` commands (``runs/main``, ``runs/benchmark-quick``: made once, shortened as below, and linked
into the folders of the pages that use them, as the README's next steps do) and, when ``../shared/data/real`` is
there, a link to each real file (of every subfolder) under the name the pages use; blocks that read real files (or
the tables imported from them) are skipped without it. A page's Python blocks share one namespace, as in a
notebook. Shell blocks run as written, with bash (``set -e``), except for what would make a test run for hours,
changed openly here:

- ``source .venv/bin/activate`` activates the environment that runs the tests;
- ``make run`` and ``make test`` are checked with ``make -n`` (CI runs ``make test`` itself, and the ``run``
  commands run shortened for the follow-on examples);
- ``train``, ``evaluate``, ``run`` and ``sweep`` get ``--set`` overrides that shrink cloning to two days, DAgger
  to one, training to two PPO rollouts and evaluation to two days;
- ``deploy`` runs 3 cycles of 0.2 s instead of ``--cycles N`` of ``--cycle-s S``;
- ``index`` runs the table's first 31 days (``--days 31``) unless the block names its days, ``multimarket``
  two days (``--days 2``);
- ``benchmark run`` runs one seed on one test day with 256 training steps (``--quick``: its baselines on one
  day), ``benchmark tune`` one trial of 256 steps scored on two days.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REAL_DATA
from filelock import FileLock

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
REAL_FILES = {p.name: p for p in REAL_DATA.rglob("*") if p.is_file()} if REAL_DATA.is_dir() else {}
REAL_NAMES = sorted(REAL_FILES)
SMALL = " ".join(f"--set {item}" for item in (
    "train.total_steps=1024", "train.n_envs=2", "train.hyperparameters.n_steps=512", "train.clone_days=2",
    "train.dagger_days=1", "train.eval_every_steps=1024", "train.eval_days=1", "train.checkpoint_every_steps=1024",
    "rl_baseline.total_steps=1024", "rl_baseline.n_envs=2", "rl_baseline.hyperparameters.n_steps=512",
    "evaluate.days=2"))
MADE = ("main", "benchmark-quick")  # what the Makefile's run commands leave in runs/
# a command of the bessgym CLI: at the start of a line or after a shell operator, never inside a path
COMMAND = r"(?:^|[;&|(]\s*|\$\(\s*)bessgym"


def page_blocks(page: Path) -> list[tuple[str, int, str]]:
    """(language, line of the opening fence, text) of every bash and python block of a page."""
    blocks, lang, start, lines = [], None, 0, []
    for number, line in enumerate(page.read_text().splitlines(), start=1):
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
    return ("real20" in text or "--real-data" in text or any(name in text for name in REAL_NAMES)
            or "_Stunde.csv" in text)


def shell_for_test(text: str) -> str:
    """The block with the changes of the module docstring."""
    out = []
    for line in text.replace("\\\n", " ").splitlines():
        command = line.split("#", 1)[0].rstrip()
        if re.search(COMMAND + r" (train|evaluate|run|sweep)\b", command):
            command += " " + SMALL
        if re.search(COMMAND + r" index\b", command) and "--days" not in command:
            command += " --days 31"
        if re.search(COMMAND + r" multimarket\b", command):
            command = re.sub(r"--days \d+", "", command) + " --days 2"
        if re.search(COMMAND + r" benchmark run\b", command):
            if "--quick" in command:
                command = re.sub(r"--days \d+", "", command) + " --days 1"
            else:
                command = re.sub(r"--(seeds|days|train-steps) \d+", "", command)
                command += " --seeds 1 --days 1 --train-steps 256"
        if re.search(COMMAND + r" benchmark tune\b", command):
            command = re.sub(r"--(trials|train-steps|validation-days) \d+", "", command)
            command += " --trials 1 --train-steps 256 --validation-days 2"
        if re.search(COMMAND + r" deploy\b", command):
            command = re.sub(r"--cycles \d+", "--cycles 3", command)
            command = re.sub(r"--cycle-s [\d.]+", "", command) + " --cycle-s 0.2"
        if re.match(r"\s*(source|\.) \.venv/bin/activate\b", command):  # the environment running the tests
            activate = Path(sys.executable).parent / "activate"
            command = f"source {activate}" if activate.exists() else "true"
        if re.match(r"\s*make (run|test)\b", command):  # after the bessgym rewrites: ROOT may contain "bessgym"
            command = command.replace("make ", f"make -n -C {ROOT} ", 1)
        out.append(command)
    return "set -euo pipefail\n" + "\n".join(out)


def make_run_commands() -> str:
    """The Makefile's ``run`` recipe, as the shell runs it with the venv's bin on the PATH."""
    recipe, inside = [], False
    for line in (ROOT / "Makefile").read_text().splitlines():
        if inside and line.startswith("\t"):
            recipe.append(line.strip().replace("$(BIN)/", ""))
        inside = line.startswith("run:") or (inside and line.startswith("\t"))
    return "\n".join(recipe)


def command_env(work: Path) -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}", "BESSGYM_CACHE": str(work / ".cache"),
            "COLUMNS": "160", "PYTHONPATH": str(ROOT)}


def run_shell(text: str, work: Path, where: str) -> None:
    script = shell_for_test(text)
    done = subprocess.run(["bash", "-c", script], cwd=work, env=command_env(work), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, (f"{where} failed ({done.returncode}):\n{script}\n--- stdout\n"
                                  f"{done.stdout[-4000:]}\n--- stderr\n{done.stderr[-4000:]}")


@pytest.fixture(scope="session")
def made_run(tmp_path_factory, worker_id) -> Path:
    """A folder with what the Makefile's ``run`` commands leave in ``runs/`` (shortened), made once for all
    test workers."""
    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent  # this session's, seen by every pytest-xdist worker
    work, done = shared / "made_run", shared / "made_run.done"
    with FileLock(str(shared / "made_run.lock")):
        if not done.exists():
            work.mkdir(exist_ok=True)
            if not (work / "experiments").exists():
                (work / "experiments").symlink_to(ROOT / "experiments")
            run_shell(make_run_commands(), work, "the Makefile's run commands")
            done.touch()
    return work / "runs"


@pytest.fixture(scope="session")
def workdirs(tmp_path_factory, request):
    """A working folder per page, made on first use; the outputs of ``make run`` only where the page uses them
    (another page does not wait for them)."""
    folders: dict[str, Path] = {}

    def folder(page: str) -> Path:
        if page not in folders:
            work = folders[page] = tmp_path_factory.mktemp(Path(page).stem.lower())
            (work / "experiments").symlink_to(ROOT / "experiments")
            (work / "runs").mkdir()
            if any(f"runs/{name}" in text for _, _, text in page_blocks(ROOT / page) for name in MADE):
                made_run = request.getfixturevalue("made_run")
                for name in MADE:
                    (work / "runs" / name).symlink_to(made_run / name)
            for name, path in REAL_FILES.items():  # as a user has them: downloaded into one folder
                (work / name).symlink_to(path)
        return folders[page]

    return folder


@pytest.fixture(scope="session")
def namespaces() -> dict[str, dict]:
    return {}


def test_the_pages_have_examples():
    assert len(PAGES) >= 10
    readme = [lang for lang, _, _ in page_blocks(ROOT / "README.md")]
    assert readme.count("bash") >= 2 and readme.count("python") >= 1


def test_commands_are_told_from_paths():
    """A checkout in a folder named ``bessgym`` (git clone's default) is a path, not a command."""
    script = shell_for_test("make run\nbessgym run --out runs/x\n(cd /a/bessgym && ls)")
    make, run, sub = script.splitlines()[1:]
    assert make == f"make -n -C {ROOT} run" and "--set" not in make and "--set" not in sub
    assert run.startswith("bessgym run --out runs/x --set train.total_steps=1024")
    assert shell_for_test("bessgym benchmark run --quick --out q").endswith("--quick --out q --days 1")
    assert shell_for_test("bessgym index --out i").endswith("--out i --days 31")
    assert shell_for_test("bessgym multimarket --days 7 --out m").endswith("--out m --days 2")


def run_example(page: str, lang: str, line: int, text: str, work: Path, namespace: dict, monkeypatch) -> None:
    if needs_real_data(text) and not REAL_NAMES:
        pytest.skip(f"{page} line {line} reads the real files, not found at {REAL_DATA}")
    monkeypatch.chdir(work)
    if lang == "python":
        monkeypatch.setenv("MLFLOW_TRACKING_URI", command_env(work)["MLFLOW_TRACKING_URI"])
        exec(compile(text, f"{page}:{line}", "exec"), namespace)
        return
    run_shell(text, work, f"{page} line {line}")


def page_tests(page: Path) -> type:
    """A test class of one page's examples: pytest-xdist (``--dist loadscope``) keeps a class on one worker,
    in order, while the pages spread over the workers."""
    name = page.relative_to(ROOT).as_posix()
    blocks = page_blocks(page)

    @pytest.mark.parametrize(("lang", "line", "text"), blocks, ids=[f"{lang}-line{line}" for lang, line, _ in blocks])
    def test_example_runs(self, lang, line, text, workdirs, namespaces, monkeypatch):
        run_example(name, lang, line, text, workdirs(name), namespaces.setdefault(name, {"__name__": "docs"}),
                    monkeypatch)

    return type(f"TestPage_{re.sub(r'[^0-9A-Za-z]', '_', page.stem)}", (),
                {"__doc__": f"The examples of {name}.", "test_example_runs": test_example_runs})


for _page in PAGES:
    if page_blocks(_page):
        _tests = page_tests(_page)
        globals()[_tests.__name__] = _tests
