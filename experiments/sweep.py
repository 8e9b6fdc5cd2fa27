"""``bessgym sweep``: a grid of configurations, each trained (when it evaluates a trained agent) and
evaluated in its own process, on a local process pool or on Ray.

Each point writes ``<out>/point_NNN/`` and logs to MLflow like ``bessgym evaluate``; ``results.csv`` is
rewritten after every finished point. A failed point is recorded with its error and the others go on. A
rerun skips the points already finished with the same overrides, so an interrupted sweep is resumed by
running it again. SIGINT or SIGTERM stops a local sweep at once (queued points are not started, running ones
are stopped and stay pending); workers end with the sweep's process, even when it is killed.
"""

from __future__ import annotations

import ctypes
import itertools
import json
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bessgym._io import atomic_path
from experiments.config import ConfigError, ExperimentConfig
from experiments.signals import on_signals, raise_interrupted

BACKENDS = ("local", "ray")


def load_grid(path: Path) -> dict[str, list[Any]]:
    """A YAML mapping of dotted configuration keys to lists of values."""
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the grid ({exc})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: the grid must map configuration keys (e.g. battery.energy_mwh) to value lists")
    for key, values in data.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: {key}: give a non-empty list of values, got {values!r}")
    return data


def grid_points(base: ExperimentConfig, grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, each validated against ``base`` before anything runs."""
    keys = list(grid)
    points = [dict(zip(keys, values, strict=True)) for values in itertools.product(*grid.values())]
    for point in points:
        base.with_overrides(point)  # a bad value fails the sweep up front, naming the field
    return points


def run_point(config_data: dict[str, Any], overrides: dict[str, Any], out: str) -> dict[str, Any]:
    """Train (if needed) and evaluate one point; never raises: a failure comes back as ``error``."""
    from experiments.config import LEARNED, TRAIN_FOLDERS, parse_config
    from experiments.report import evaluate_run

    folder = Path(out)
    try:
        config = parse_config(config_data, source="sweep").with_overrides(overrides)
        learners = [strategy for strategy in LEARNED if strategy in config.evaluate.strategies]
        if learners:  # torch and SB3 only where something trains (3 s of a worker's start)
            from experiments.train import train
        models = {strategy: train(config.learner_config(strategy), folder / TRAIN_FOLDERS[strategy]).model_dir
                  for strategy in learners}
        report = evaluate_run(config, folder / "evaluate", model_dir=models.get("trained"),
                              baseline_dir=models.get("rl_baseline"))
        result = {"status": "ok", "run_id": report.run_id,
                  **{f"{s}_eur_per_mw_year": m["annualised_eur_per_mw_year"] for s, m in report.metrics.items()}}
        if "trained" in report.metrics:
            result["trained_share_of_pf_lp"] = report.metrics["trained"].get("share_of_pf_lp")
    except Exception as exc:  # reported per point; the sweep goes on
        result = {"status": "failed", "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    with atomic_path(folder / "result.json") as tmp:
        tmp.write_text(json.dumps({"overrides": overrides, **result}, default=str))
    return result


def sweep(base: ExperimentConfig, grid: dict[str, list[Any]], out: Path, *, workers: int = 2,
          backend: str = "local", on_done: Callable[[int, dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """Run every grid point; returns (and writes to ``results.csv``) one row per point."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    points = grid_points(base, grid)
    out = out.resolve()  # workers may run elsewhere (Ray)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[int, dict[str, Any]] = {}
    todo = []
    for i, point in enumerate(points):
        previous = _finished(out / f"point_{i:03d}", point)
        if previous is not None:
            results[i] = previous
        else:
            todo.append(i)
    from experiments import tracking

    tracking.prepare_store(base.name)  # before workers write to it side by side
    data = base.model_dump(mode="json")
    jobs = [(i, (data, points[i], str(out / f"point_{i:03d}"))) for i in todo]

    def finish(i: int, result: dict[str, Any]) -> None:
        results[i] = {"overrides": points[i], **result}
        _write_results(points, results, out)
        if on_done is not None:
            on_done(i, result)

    _write_results(points, results, out)  # the table exists from the start: an interrupted sweep shows pending
    if backend == "ray":
        _run_ray(jobs, finish, workers)
    else:
        _run_local(jobs, finish, workers)
    return _write_results(points, results, out)


def _run_local(jobs: list, finish: Callable, workers: int) -> None:
    # spawn: a fresh interpreter per worker, no inherited torch threads or MLflow state
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn"), initializer=_die_with_parent)
    try:
        with on_signals(raise_interrupted):
            pending = {pool.submit(run_point, *args): i for i, args in jobs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    i = pending.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # a worker that died, e.g. killed for memory
                        result = {"status": "failed", "error": f"worker died: {type(exc).__name__}: {exc}"}
                    finish(i, result)
    except BaseException:  # interrupted: queued points are not started, running ones are stopped
        running = list((getattr(pool, "_processes", None) or {}).values())  # no public API stops workers
        for process in running:
            process.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def _die_with_parent() -> None:
    """Worker initializer: the kernel ends the worker when the sweep's process dies, even by SIGKILL (Linux),
    so no orphan keeps computing or writing points; elsewhere a thread watches the parent instead."""
    parent = os.getppid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        if libc.prctl(1, signal.SIGKILL) == 0 and os.getppid() == parent:  # 1 = PR_SET_PDEATHSIG
            return
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


def _run_ray(jobs: list, finish: Callable, workers: int) -> None:
    """The points as Ray tasks of one CPU each: on the cluster at ``RAY_ADDRESS`` (or one already connected),
    else on a local Ray started here with ``workers`` CPUs and shut down at the end. The workers get this
    process's MLflow store and baseline cache; an interrupt cancels what has not finished."""
    try:
        import ray
    except ImportError:
        raise RuntimeError("--backend ray needs Ray: pip install 'bessgym[ray]'") from None
    import mlflow

    from experiments.baselines import cache_folder

    env = {"MLFLOW_TRACKING_URI": mlflow.get_tracking_uri(), "BESSGYM_CACHE": str(cache_folder().resolve())}
    started = not ray.is_initialized()
    if started:
        local = {} if os.environ.get("RAY_ADDRESS") else {"num_cpus": workers, "include_dashboard": False}
        ray.init(log_to_driver=False, **local)
    remote = ray.remote(num_cpus=1, max_retries=0)(run_point).options(runtime_env={"env_vars": env})
    pending = {remote.remote(*args): i for i, args in jobs}
    try:
        with on_signals(raise_interrupted):
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    i = pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except Exception as exc:  # a lost worker or node
                        result = {"status": "failed", "error": f"ray task failed: {type(exc).__name__}: {exc}"}
                    finish(i, result)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _finished(folder: Path, overrides: dict[str, Any]) -> dict[str, Any] | None:
    """A point's earlier successful result, if it ran with the same overrides."""
    path = folder / "result.json"
    if not path.exists():
        return None
    previous = json.loads(path.read_text())
    same = previous.get("overrides") == json.loads(json.dumps(overrides, default=str))
    return previous if same and previous.get("status") == "ok" else None


def _write_results(points: list[dict[str, Any]], results: dict[int, dict[str, Any]], out: Path) -> pd.DataFrame:
    rows = []
    for i, point in enumerate(points):
        r = results.get(i, {"status": "pending"})
        rows.append({"point": i, **point,
                     **{k: v for k, v in r.items() if k not in ("overrides", "traceback")}})
    table = pd.DataFrame(rows).set_index("point")
    with atomic_path(out / "results.csv") as tmp:
        table.to_csv(tmp)
    return table
