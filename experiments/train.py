"""``bessgym train``: an RL agent on the training market, evaluated against the index during training,
checkpointed, resumable, logged to MLflow.

The run directory holds ``config.yaml`` (what ran), ``checkpoints/`` (each in its own folder, with
``latest.json`` written last, so a checkpoint is complete or not referenced), ``best/`` (the best agent on
the evaluation days) and ``model/`` (the final agent and its ONNX export). ``resume`` continues from the
latest checkpoint in the same MLflow run; environments restart from their seeds, so a resumed run is not
bit-identical to an uninterrupted one. SIGINT and SIGTERM (also to a background job) stop training at the next
step with a checkpoint (:class:`~experiments.signals.Interrupted`).
"""

from __future__ import annotations

import json
import shutil
import time
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import mlflow
import pandas as pd
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

from agents.batched import batched_vec_env
from agents.masked import DiscreteActions, DiscreteVecActions
from agents.rl import ALGORITHMS, DEFAULTS, MODEL_FILE, NORM_FILE, ONNX_FILE, RLAgent, build_model, normalized, quiet
from bessgym._io import atomic_path
from bessgym.data.arrays import MarketArrays
from experiments import tracking
from experiments.config import ConfigError, ExperimentConfig, dump_config, load_config
from experiments.evaluate import (
    evaluate_strategies,
    evaluation_period,
    index_baseline,
    make_env,
    make_vector_env,
    run_agent,
)
from experiments.plots import learning_curve_figure
from experiments.signals import Interrupted, on_signals

BUFFER_FILE = "replay_buffer.pkl"


@dataclass
class TrainResult:
    model_dir: Path
    run_id: str
    steps: int
    evaluations: list[dict[str, float]]


class _Periodic(BaseCallback):
    """Calls :meth:`fire` every ``every`` steps, at the end of a rollout and before ``until`` (the budget, where
    training evaluates and saves anyway). A rollout is collected by one policy: PPO's 8 x 2,048 steps evaluated
    every 256 steps ran the same policy 64 times (SAC's rollout is its ``train_freq``, a step by default)."""

    def __init__(self, every: int, until: int) -> None:
        super().__init__()
        self.every, self.until, self.last = every, until, 0

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        if self.num_timesteps - self.last >= self.every and self.num_timesteps < self.until:
            self.fire()

    @abstractmethod
    def fire(self) -> object:
        """What is done every ``every`` steps (a checkpoint, an evaluation)."""


class _Checkpoint(_Periodic):
    """Every ``every`` steps (and on demand): model, normaliser (and SAC's replay buffer) into a new folder,
    then ``latest.json`` pointing at it; older folders are removed."""

    def __init__(self, root: Path, every: int, until: int, run_id: str, algorithm: str) -> None:
        super().__init__(every, until)
        self.root, self.run_id, self.algorithm = root, run_id, algorithm

    def fire(self) -> Path:
        return self.save()

    def save(self) -> Path:
        folder = self.root / f"step_{self.num_timesteps:09d}"
        RLAgent(self.model, self.model.get_vec_normalize_env(), algorithm=self.algorithm).save(folder)
        if hasattr(self.model, "replay_buffer") and self.model.replay_buffer is not None:
            with atomic_path(folder / BUFFER_FILE) as tmp:
                self.model.save_replay_buffer(tmp)
        with atomic_path(self.root / "latest.json") as tmp:
            tmp.write_text(json.dumps({"folder": folder.name, "steps": self.num_timesteps, "run_id": self.run_id}))
        for old in self.root.glob("step_*"):
            if old != folder:
                shutil.rmtree(old, ignore_errors=True)
        self.last = self.num_timesteps
        return folder


class _Evaluate(_Periodic):
    """Every ``every`` steps: the agent on the evaluation days against the perfect-foresight LP and the
    index, logged to MLflow at the step; the best agent so far is kept in ``best/``."""

    def __init__(self, config: ExperimentConfig, market: pd.DataFrame, best_dir: Path, every: int, until: int,
                 report: Callable[[int, dict[str, float]], None] | None, started: float) -> None:
        super().__init__(every, until)
        self.best_dir, self.report = best_dir, report
        self.config = config.with_overrides({"evaluate.days": config.train.eval_days, "evaluate.strategies": ["lp"]})
        period, self.market = evaluation_period(self.config, market)
        self.lp_eur = evaluate_strategies(self.config, self.market)["lp"].metrics()["revenue_eur"]
        self.index = index_baseline(self.config, period).annualised()
        self.best = -float("inf")
        self.history: list[dict[str, float]] = []
        self.started = started  # perf_counter at the run's start (a resumed run counts from its resumption)
        self.curve = best_dir.parent / "learning_curve"  # .csv and .png, rewritten at every evaluation
        days = len(self.market.dates)
        self.lp_eur_per_mw_year = self.lp_eur * 365 / days / config.battery.power_mw

    def fire(self) -> dict[str, float]:
        return self.evaluate()

    def evaluate(self) -> dict[str, float]:
        self.last = self.num_timesteps
        agent = RLAgent(self.model, self.model.get_vec_normalize_env(), algorithm=self.config.train.algorithm)
        env = make_env(self.config, self.market, episode_days=len(self.market.dates), start_day=self.market.dates[0],
                       learner=True)
        metrics = run_agent(agent, env, seed=self.config.evaluate.seed).metrics(lp_eur=self.lp_eur, index=self.index)
        keep = {k: v for k, v in metrics.items() if k in tracking.SUMMARY_METRICS}
        mlflow.log_metrics({f"eval/{k}": v for k, v in keep.items()}, step=self.num_timesteps)
        self.history.append({"steps": float(self.num_timesteps), "wall_s": time.perf_counter() - self.started,
                             **keep})
        self._write_curve()
        if metrics["annualised_eur_per_mw_year"] > self.best:
            self.best = metrics["annualised_eur_per_mw_year"]
            agent.save(self.best_dir)
        if self.report is not None:
            self.report(self.num_timesteps, keep)
        return keep

    def _write_curve(self) -> None:
        """learning_curve.csv (one row per evaluation) and learning_curve.png beside the run's model."""
        history = pd.DataFrame(self.history).drop_duplicates("steps", keep="last")
        with atomic_path(self.curve.with_suffix(".csv")) as tmp:
            history.to_csv(tmp, index=False)
        t = self.config.train
        learner = t.algorithm.upper() + (f" cloned from {t.clone_from} (step 0: the clone before RL)"
                                         if t.clone_from else "")
        learning_curve_figure(history, self.curve.with_suffix(".png"), lp_eur_per_mw_year=self.lp_eur_per_mw_year,
                              index_trading_eur_per_mw_year=self.index.get("trading"),
                              title=f"{self.config.name}: {learner}, {len(self.market.dates)} evaluation days")


class _StopOnSignal(BaseCallback):
    """Ends ``learn`` at the next step once SIGINT or SIGTERM arrived (:func:`experiments.signals.on_signals`),
    so the checkpoint is taken between steps, never half-way through an update."""

    def __init__(self) -> None:
        super().__init__()
        self.signum: int | None = None

    def stop(self, signum: int) -> None:
        self.signum = signum

    def _on_step(self) -> bool:
        return self.signum is None


class _Progress(BaseCallback):
    def __init__(self, update: Callable[[int], None], every: int = 64) -> None:
        super().__init__()
        self.update, self.every = update, every

    def _on_step(self) -> bool:
        if self.n_calls % self.every == 0:
            self.update(self.num_timesteps)
        return True


def _training_env(config: ExperimentConfig, market: MarketArrays, normalizer: Path | None) -> VecNormalize:
    """The envs training collects from: ``n_envs`` single envs, or ``n_envs`` groups of ``batched_copies`` in
    the native batched env; normalised (with the checkpoint's statistics when resuming)."""
    t = config.train
    discrete = t.algorithm == "maskable_ppo"  # MaskablePPO: discretised actions on the env's mask
    if t.batched_copies:
        base = batched_vec_env(lambda k: make_vector_env(config, market, t.batched_copies), t.n_envs)
        base = DiscreteVecActions(base, t.action_levels) if discrete else base
    else:
        wrap = (lambda env: DiscreteActions(env, t.action_levels)) if discrete else (lambda env: env)
        base = DummyVecEnv([lambda: wrap(make_env(config, market, learner=True))] * t.n_envs)
    if normalizer is None:
        return normalized(base, seed=t.seed, normalize_obs=t.normalize_obs, normalize_reward=t.normalize_reward)
    monitored = VecMonitor(base)
    monitored.seed(t.seed)
    return VecNormalize.load(str(normalizer), monitored)


def train(config: ExperimentConfig, out: Path, *, resume: bool = False,
          progress: Callable[[int], None] | None = None,
          report: Callable[[int, dict[str, float]], None] | None = None,
          announce: Callable[[str], None] | None = None) -> TrainResult:
    """Train ``config.train.algorithm`` and write the run directory ``out``; see the module docstring.
    ``progress(steps)`` as RL runs, ``report(steps, metrics)`` at each evaluation, ``announce(text)`` at each
    phase before RL (cloning, DAgger rounds)."""
    t = config.train
    started = time.perf_counter()  # the learning curve's wall-clock counts cloning and evaluations too
    torch.set_num_threads(t.torch_threads)
    ckpt_root = out / "checkpoints"
    state = _resume_state(config, out) if resume else None
    out.mkdir(parents=True, exist_ok=True)
    dump_config(config, out / "config.yaml")
    train_market = MarketArrays.from_frame(config.train_market.load(), source=config.train_market.label())

    if state is None:
        venv = _training_env(config, train_market, None)
        model = build_model(t.algorithm, venv, seed=t.seed, **t.hyperparameters)
    else:
        folder = ckpt_root / state["folder"]
        venv = _training_env(config, train_market, folder / NORM_FILE)
        model = quiet(ALGORITHMS[t.algorithm].load(folder / MODEL_FILE, env=venv, device="cpu"))
        if (folder / BUFFER_FILE).exists():
            model.load_replay_buffer(folder / BUFFER_FILE)

    with tracking.run(config, f"{config.name}-train-{t.algorithm}", run_id=state and state["run_id"],
                      tags={"kind": "train"}) as active:
        if state is None and t.clone_from is not None:
            _clone(config, train_market, model, venv, announce or (lambda text: None))
        checkpoint = _Checkpoint(ckpt_root, t.checkpoint_every_steps, t.total_steps, active.info.run_id,
                                 t.algorithm)
        checkpoint.last = model.num_timesteps
        evaluate = _Evaluate(config, config.eval_market.load(), out / "best", t.eval_every_steps, t.total_steps,
                             report, started)
        evaluate.last = model.num_timesteps
        if state is not None and evaluate.curve.with_suffix(".csv").exists():  # a resumed run continues its curve
            earlier = pd.read_csv(evaluate.curve.with_suffix(".csv"))
            evaluate.history = earlier[earlier["steps"] <= model.num_timesteps].to_dict("records")
        for callback in (checkpoint, evaluate):  # also when nothing is left to learn (resumed at the end)
            callback.init_callback(model)
            callback.num_timesteps = model.num_timesteps
        if state is None and t.clone_from is not None:
            evaluate.evaluate()  # the clone before RL: the learning curve's first point
        stop = _StopOnSignal()
        callbacks = [checkpoint, evaluate, stop] + ([_Progress(progress)] if progress else [])
        remaining = t.total_steps - model.num_timesteps
        try:
            with on_signals(stop.stop):
                if remaining > 0:
                    model.learn(remaining, callback=callbacks, reset_num_timesteps=state is None)
        except KeyboardInterrupt:  # raised in the run itself (a notebook's interrupt, a callback)
            checkpoint.save()
            raise
        if stop.signum is not None:
            checkpoint.save()  # the interrupted run resumes from here
            raise Interrupted(stop.signum)
        evaluate.evaluate()
        checkpoint.save()  # --resume continues from here, however short the run
        model_dir = out / "model"
        agent = RLAgent(model, model.get_vec_normalize_env(), algorithm=t.algorithm)
        agent.save(model_dir)
        agent.export_onnx(model_dir / ONNX_FILE)
        tracking.log_artifacts([out / "config.yaml"])
        tracking.log_artifacts([model_dir], artifact_path="model")
        mlflow.log_metric("train/steps", model.num_timesteps)
        return TrainResult(model_dir, active.info.run_id, model.num_timesteps, evaluate.history)


def _clone(config: ExperimentConfig, market: MarketArrays, model, venv: VecNormalize,
           announce: Callable[[str], None]) -> None:
    """Behaviour cloning before RL (``train.clone_from``): the LP's actions on ``clone_days`` days of the
    training market, then ``dagger_rounds`` of DAgger (:mod:`agents.imitation`); the losses are logged."""
    from agents.imitation import clone, dagger, demonstrations, warm_up_critic
    from experiments.evaluate import NOISY_BASELINES, make_agent

    t = config.train
    if config.env.kind == "portfolio":
        raise ConfigError("train.clone_from: a portfolio's LPs decide per asset, which its pooled action cannot "
                          "show; clone on one battery or a site")
    if t.dagger_rounds and (config.env.kind != "single" or "intraday" not in config.env.products):
        raise ConfigError("train.dagger_rounds: the expert that re-plans from any state (rolling intrinsic) trades "
                          f"one battery intraday; env.kind is {config.env.kind!r}, env.products "
                          f"{list(config.env.products)}")
    forecast = "noisy" if t.clone_from in NOISY_BASELINES else "perfect"
    episodes = max(t.clone_days // config.env.episode_days, 1)
    announce(f"  cloning {t.clone_from}: its actions on {episodes * config.env.episode_days} training days, "
             f"{t.clone_epochs} epochs")
    # the experts act in the learner's env: the actions they demonstrate mean what the clone's will
    def learner_env() -> gym.Env:
        return make_env(config, market, forecast=forecast, learner=True)

    demos = demonstrations(learner_env, make_agent(t.clone_from, config), episodes, seed=t.seed)
    losses = clone(model, venv, demos.observations, demos.actions, epochs=t.clone_epochs, seed=t.seed)
    for epoch, loss in enumerate(losses):
        mlflow.log_metric("bc/loss", loss, step=epoch)
    if t.dagger_rounds:
        announce(f"  DAgger: {t.dagger_rounds} round(s) of {t.dagger_days} days, rolling intrinsic labelling")
        rounds = dagger(model, venv, learner_env,
                        make_agent("rolling_intrinsic", config), demos, rounds=t.dagger_rounds,
                        episodes=max(t.dagger_days // config.env.episode_days, 1), epochs=t.clone_epochs,
                        seed=t.seed)
        for k, r in enumerate(rounds, start=1):
            mlflow.log_metrics({"dagger/gap": r.gap, "dagger/loss": r.loss, "dagger/labels": len(r.labels)}, step=k)
    if t.critic_warmup:
        for epoch, loss in enumerate(warm_up_critic(model, venv, demos, epochs=t.clone_epochs, seed=t.seed)):
            mlflow.log_metric("bc/critic_loss", loss, step=epoch)
    mlflow.log_metric("bc/demonstrations", len(demos.observations))


def planned_steps(config: ExperimentConfig) -> tuple[int, str | None]:
    """The steps ``learn`` runs for ``train.total_steps``, and why they differ where they do: PPO collects
    whole rollouts of ``n_steps`` x ``n_envs`` steps, SAC steps all envs at once."""
    t = config.train
    envs = t.n_envs * max(t.batched_copies, 1)
    n_steps = {**DEFAULTS[t.algorithm], **t.hyperparameters}.get("n_steps", 1)  # PPO's rollout per env
    on_policy = t.algorithm in ("ppo", "maskable_ppo")
    chunk = envs * (int(n_steps) if on_policy else 1)
    planned = -(-t.total_steps // chunk) * chunk
    if planned == t.total_steps:
        return planned, None
    how = f"whole rollouts of {chunk // envs:,} steps x {envs} envs" if on_policy else \
        f"{envs} envs a step"
    return planned, (f"{t.algorithm.upper()} learns in {how}: {planned:,} steps for train.total_steps "
                     f"{t.total_steps:,}")


def _resume_state(config: ExperimentConfig, out: Path) -> dict:
    """The latest checkpoint of ``out``, after checking the run was made with the same configuration
    (only ``train.total_steps`` may change, to train longer)."""
    latest = out / "checkpoints" / "latest.json"
    if not latest.exists():
        raise FileNotFoundError(f"nothing to resume in {out}: no checkpoints/latest.json (start without --resume)")
    before = load_config(out / "config.yaml").flat()
    now = config.flat()
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k) and k != "train.total_steps")
    if changed:
        raise ConfigError(f"{out / 'config.yaml'}: the run was made with another configuration "
                          f"({', '.join(changed)}); resume with the same one or start a new run")
    return json.loads(latest.read_text())
