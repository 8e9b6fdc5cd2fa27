"""``bessgym benchmark tasks / run / table``: the named tasks, agents on them over seeds, the leaderboard."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from bessgym.errors import MarketDataError
from experiments.cli._common import console, escape, fail, frame_table

app = typer.Typer(help="The benchmark suite: named tasks, baselines, the leaderboard.", no_args_is_help=True)

OutOption = Annotated[Path, typer.Option(help="Results folder (<task>/<agent>/seed_<k>.json, the leaderboard).")]
QUICK_DAYS = 7  # the quick suite: every task's baselines on the first test week, one seed


@app.command("tasks")
def tasks_cmd() -> None:
    """The tasks, their reference LP and their agents."""
    import pandas as pd

    from experiments.tasks import REAL_TASKS, TASKS

    rows = [{"task": t.id, "what": t.description + (f" [real data: {t.data.dataset}, --real-data]" if t.data else ""),
             "reference": t.reference, "agents": ", ".join(t.agents)} for t in (*TASKS.values(), *REAL_TASKS.values())]
    console.print(frame_table(pd.DataFrame(rows), "bessgym benchmark tasks"))


@app.command("run")
def run_cmd(
    task: Annotated[str, typer.Option(help="Task name (see `bessgym benchmark tasks`), or all.")] = "all",
    agent: Annotated[str, typer.Option(help="Agent, baselines (every baseline of the task) or all (with PPO "
                                            "and SAC).")] = "baselines",
    seeds: Annotated[int | None, typer.Option(help="Seeds 0..N-1; default: the task's (3).", min=1)] = None,
    days: Annotated[int | None, typer.Option(help="First N test days (default: the whole test market).",
                                             min=1)] = None,
    train_data: Annotated[Path | None, typer.Option(help="Training contract table (default: synthetic 2024).")]
    = None,
    test_data: Annotated[Path | None, typer.Option(help="Test contract table (default: synthetic 2025).")] = None,
    real_data: Annotated[Path | None, typer.Option(help="Folder of the public files the real-data tasks are built "
                                                        "from (default: $BESSGYM_REAL_DATA); with it, all includes "
                                                        "them.")] = None,
    train_steps: Annotated[int | None, typer.Option(help="Training steps of every learner (default: 400,000; a "
                                                         "clone's RL after cloning 16,384).", min=1)] = None,
    quick: Annotated[bool, typer.Option("--quick", help=f"Every task's baselines, one seed, the first {QUICK_DAYS} "
                                                        "test days (what `make run` shows).")] = False,
    workers: Annotated[int, typer.Option(help="Processes running tasks side by side (a task's agents run in "
                                              "order in one, so its reference LP is solved once).", min=1)] = 1,
    out: OutOption = Path("runs/benchmark"),
) -> None:
    """Run agents on tasks over seeds; each result is written and logged to MLflow, then the leaderboard."""
    from bessgym.data.datasets import DATA_ENV
    from experiments.tasks import REAL_TASKS, TASKS
    from experiments.tasks import task as find_task

    if quick:
        task, agent, seeds, days = "all", "baselines", seeds or 1, days or QUICK_DAYS
    real = real_data is not None or bool(os.environ.get(DATA_ENV))
    try:
        every = [*TASKS.values(), *(REAL_TASKS.values() if real and not quick else ())]
        chosen = every if task == "all" else [find_task(task)]
        plan = [(t, a) for t in chosen for a in _agents(t, agent)]
    except (KeyError, ValueError) as exc:
        raise fail(ValueError(str(exc).strip('"'))) from exc
    options = {"days": days, "train_data": train_data, "test_data": test_data, "real_data": real_data,
               "train_steps": train_steps}
    jobs = [(t.id, [a for u, a in plan if u is t], seeds, out, options) for t in chosen]
    try:
        if workers == 1:
            for job in jobs:
                _run_task(*job)
        else:  # spawned: no torch threads or MLflow state inherited; leaving early terminates the workers
            from multiprocessing import get_context

            from experiments import tracking

            tracking.prepare_store(*(f"benchmark-{t.id}" for t in chosen))
            with get_context("spawn").Pool(processes=min(workers, len(jobs))) as pool:
                for result in [pool.apply_async(_run_task, job) for job in jobs]:
                    result.get()
    except (MarketDataError, ValueError) as exc:
        raise fail(exc) from exc
    _table(out, [t.id for t in chosen], command="bessgym benchmark " + shlex.join(sys.argv[2:]))


def _run_task(task_id: str, agents: list[str], seeds: int | None, out: Path, options: dict) -> None:
    """Every agent of one task, in order (the first solves the task's reference LP, the others reuse it)."""
    from experiments import benchmark
    from experiments.tasks import task as find_task

    task = find_task(task_id)
    try:
        for agent in agents:
            benchmark.run(task, agent, range(seeds or task.seeds), out, **options,
                          progress=lambda what: console.print(f"running {escape(what)}"))
    except (MarketDataError, ValueError) as exc:  # as its message: it may cross from a worker process
        raise ValueError(str(exc)) from None


def _agents(task, agent: str) -> tuple[str, ...]:
    from experiments.benchmark import check_agent

    if agent == "baselines":
        return task.baselines
    if agent == "all":
        return task.agents
    check_agent(task, agent)
    return (agent,)


@app.command("tune")
def tune_cmd(
    task: Annotated[str, typer.Option(help="Task name (see `bessgym benchmark tasks`).")],
    agent: Annotated[str, typer.Option(help="ppo, sac or maskable_ppo.")] = "ppo",
    trials: Annotated[int, typer.Option(help="Trials to add to the study.", min=1)] = 20,
    train_steps: Annotated[int, typer.Option(help="Training steps per trial.", min=1)] = 200_000,
    validation_days: Annotated[int, typer.Option(help="Last days of the training market to score trials on.",
                                                 min=1)] = 28,
    train_data: Annotated[Path | None, typer.Option(help="Training contract table (default: synthetic 2024).")]
    = None,
    out: Annotated[Path | None, typer.Option(help="Study folder; default runs/tune/<task>-<agent>.")] = None,
) -> None:
    """Hyperparameter search with Optuna (TPE), every trial trained and logged to MLflow, scored on the end of
    the training market; resumable (the study is kept in the folder)."""
    from agents.rl import ALGORITHMS
    from experiments.tasks import task as find_task
    from experiments.tune import tune

    if agent not in ALGORITHMS:  # a clone's PPO is tuned as ppo (or maskable_ppo)
        raise fail(ValueError(f"--agent {agent!r}: tune one of {', '.join(ALGORITHMS)}"))
    try:
        t = find_task(task)
        folder = out or Path("runs") / "tune" / f"{t.id}-{agent}"
        study = tune(t, agent, folder, trials=trials, train_steps=train_steps, validation_days=validation_days,
                     train_data=train_data, on_trial=lambda n, value, params: console.print(
                         f"trial {n}: {value:,.0f} EUR/MW/year on the validation days"))
    except (KeyError, ValueError, MarketDataError) as exc:
        raise fail(ValueError(str(exc).strip('"'))) from exc
    best = study.best_trial
    console.print(f"best: trial {best.number}, {best.value:,.0f} EUR/MW/year; hyperparameters in "
                  f"{escape(str(folder / 'best.json'))}")


@app.command("table")
def table_cmd(
    task: Annotated[list[str] | None, typer.Option(help="Only these tasks (repeatable; default: all).")] = None,
    readme: Annotated[Path | None, typer.Option(help="Also put the Markdown leaderboard into this file, between "
                                                     "its leaderboard markers.")] = None,
    out: Annotated[Path | None, typer.Option(help="Results folder; default runs/benchmark, or where only the "
                                                  "quick suite ran (make run), runs/benchmark-quick.")] = None,
) -> None:
    """The leaderboard of every result in the folder: printed, and written as leaderboard.md and .csv."""
    if out is None:
        full, quick = Path("runs/benchmark"), Path("runs/benchmark-quick")
        out = quick if quick.is_dir() and not full.is_dir() else full
        console.print(f"results: {escape(str(out))}")
    _table(out, task, command="bessgym benchmark " + shlex.join(sys.argv[2:]), readme=readme)


def _table(out: Path, tasks: list[str] | None, *, command: str, readme: Path | None = None) -> None:
    from experiments import benchmark
    from experiments.tasks import task as find_task

    try:
        ids = None if not tasks else {find_task(t).id for t in tasks}
        results = [r for r in benchmark.load_results(out) if ids is None or r["task"] in ids]
    except (KeyError, ValueError) as exc:
        raise fail(ValueError(str(exc).strip('"'))) from exc
    if not results:
        raise fail(FileNotFoundError(f"{out}: no benchmark results; run `bessgym benchmark run` first"))
    table = benchmark.leaderboard(results)
    csv, md = benchmark.write_table(table, out, command=command)
    console.print(frame_table(benchmark.formatted(table), f"bessgym leaderboard ({len(results)} results)"))
    note = benchmark.above_reference_note(table)
    if note:
        console.print(f"note: {escape(note)}")
    console.print(f"leaderboard: {escape(str(md))}, {escape(str(csv))}")
    if readme is not None:
        try:
            benchmark.write_into_readme(readme, md.read_text())
        except (OSError, ValueError) as exc:
            raise fail(ValueError(str(exc))) from exc
        console.print(f"and in {escape(str(readme))}")
