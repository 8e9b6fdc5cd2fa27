"""``bessgym benchmark tune``: hyperparameter search for PPO, SAC or MaskablePPO on a task with Optuna, every
trial an MLflow run.

Trials are scored on a validation period cut from the end of the task's training market (the test market is
never seen): the agent trains on the days before it and is evaluated on it, like the benchmark evaluates on
the test days. The study lives in ``<out>/study.db`` (Optuna's SQLite storage), so a rerun adds trials to it
and an interrupted search resumes; ``trials.csv`` and ``best.json`` (the best trial's hyperparameters, to pass
as ``train.hyperparameters``) are rewritten after every trial.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bessgym._io import atomic_path
from experiments.config import ExperimentConfig
from experiments.tasks import Task


def search_space(algorithm: str, trial) -> dict[str, Any]:
    """The hyperparameters a trial draws (SB3 keyword arguments)."""
    common = {"learning_rate": trial.suggest_float("learning_rate", 1e-5, 1e-3, log=True),
              "gamma": trial.suggest_float("gamma", 0.9, 0.9999, log=True),
              "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256])}
    if algorithm in ("ppo", "maskable_ppo"):
        return {**common, "n_steps": trial.suggest_categorical("n_steps", [256, 512, 1024]),
                "ent_coef": trial.suggest_float("ent_coef", 1e-5, 1e-1, log=True),
                "clip_range": trial.suggest_float("clip_range", 0.1, 0.3),
                "gae_lambda": trial.suggest_float("gae_lambda", 0.8, 0.99)}
    return {**common, "tau": trial.suggest_float("tau", 1e-3, 5e-2, log=True),
            "learning_starts": trial.suggest_categorical("learning_starts", [1_000, 5_000])}


def validation_config(task: Task, algorithm: str, *, validation_days: int, train_steps: int,
                      train_data: Path | None = None) -> ExperimentConfig:
    """The task's configuration with the last ``validation_days`` of its training market as evaluation
    market and the days before as training market."""
    base = task.config(0, train_data=train_data, **{"train.algorithm": algorithm, "train.total_steps": train_steps})
    market = base.train_market
    end = market.end or (market.load().index[-1].tz_convert("Europe/Berlin").date() + dt.timedelta(days=1))
    cut = end - dt.timedelta(days=validation_days)
    if market.start is not None and cut <= market.start:
        raise ValueError(f"--validation-days {validation_days}: the training market {market.label()} is too short")
    train = {**market.model_dump(mode="json"), "end": cut.isoformat()}
    val = {**market.model_dump(mode="json"), "start": cut.isoformat(), "end": end.isoformat()}
    return base.with_overrides({"name": f"tune-{task.id}-{algorithm}", "train_market": train, "eval_market": val,
                                "evaluate.days": None, "train.eval_days": validation_days,
                                "train.eval_every_steps": train_steps, "train.checkpoint_every_steps": train_steps})


def tune(task: Task, algorithm: str, out: Path, *, trials: int, train_steps: int, validation_days: int = 28,
         seed: int = 0, train_data: Path | None = None,
         on_trial: Callable[[int, float, dict[str, Any]], None] | None = None):
    """Run ``trials`` more trials of the study in ``out``; returns the Optuna study."""
    import mlflow
    import optuna

    from experiments.train import train

    base = validation_config(task, algorithm, validation_days=validation_days, train_steps=train_steps,
                             train_data=train_data)
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=base.name, storage=f"sqlite:///{out / 'study.db'}", load_if_exists=True,
                                direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))

    def objective(trial) -> float:
        params = search_space(algorithm, trial)
        config = base.with_overrides({"train.hyperparameters": params, "train.seed": seed})
        result = train(config, out / f"trial_{trial.number:03d}")
        score = result.evaluations[-1]["annualised_eur_per_mw_year"]
        client = mlflow.MlflowClient()
        client.set_tag(result.run_id, "tune_trial", str(trial.number))
        client.log_metric(result.run_id, "validation_eur_per_mw_year", score)
        trial.set_user_attr("mlflow_run_id", result.run_id)
        return score

    def write(study, trial) -> None:
        with atomic_path(out / "trials.csv") as tmp:
            study.trials_dataframe().to_csv(tmp, index=False)
        if trial.state == optuna.trial.TrialState.COMPLETE:
            best = study.best_trial
            with atomic_path(out / "best.json") as tmp:
                tmp.write_text(json.dumps({"task": task.id, "algorithm": algorithm, "trial": best.number,
                                           "validation_eur_per_mw_year": best.value,
                                           "hyperparameters": search_space(algorithm, best)}, indent=1))
            if on_trial is not None:
                on_trial(trial.number, trial.value, trial.params)

    study.optimize(objective, n_trials=trials, callbacks=[write])
    return study
