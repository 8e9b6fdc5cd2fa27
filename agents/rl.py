"""Reinforcement-learning agents: stable-baselines3 PPO and SAC, and sb3-contrib's MaskablePPO on discretised
actions (:mod:`agents.masked`), with their observation normalisation.

Observations and rewards are normalised by SB3's ``VecNormalize`` during training. The observation
statistics belong to the policy, so they are saved beside the model (``vecnormalize.pkl``), applied by
:class:`RLAgent` at inference and folded into the ONNX export: a deployed policy takes raw observations.
Reward normalisation only shapes training and is never applied when evaluating.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import pickle
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor, VecNormalize
from stable_baselines3.sac.policies import SACPolicy

from agents.base import Agent
from agents.masked import actor_output, discrete_mask, level_logits, values
from bessgym._io import atomic_path

ALGORITHMS: dict[str, type[BaseAlgorithm]] = {"ppo": PPO, "sac": SAC, "maskable_ppo": MaskablePPO}

# Defaults for daily episodes of 96 quarter-hour steps: gamma 0.99 looks about a day ahead.
DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 512, "batch_size": 256, "n_epochs": 10, "learning_rate": 3e-4, "gamma": 0.99,
            "gae_lambda": 0.95, "clip_range": 0.2, "ent_coef": 0.0, "policy_kwargs": {"net_arch": [128, 128]}},
    "sac": {"learning_rate": 3e-4, "buffer_size": 200_000, "batch_size": 256, "learning_starts": 2_000,
            "gamma": 0.99, "tau": 0.005, "train_freq": 1, "policy_kwargs": {"net_arch": [256, 256]}},
}
DEFAULTS["maskable_ppo"] = DEFAULTS["ppo"]
MODEL_FILE, NORM_FILE, META_FILE, ONNX_FILE = "model.zip", "vecnormalize.pkl", "agent.json", "policy.onnx"


def make_vec_env(env_fn: Callable[[], gym.Env], n_envs: int, *, seed: int, normalize_obs: bool = True,
                 normalize_reward: bool = True, gamma: float = 0.99) -> VecNormalize:
    """``n_envs`` copies of ``env_fn()`` with episode statistics and (optionally) normalisation, seeded."""
    if n_envs < 1:
        raise ValueError(f"n_envs must be >= 1, got {n_envs}")
    return normalized(DummyVecEnv([env_fn] * n_envs), seed=seed, normalize_obs=normalize_obs,
                      normalize_reward=normalize_reward, gamma=gamma)


def normalized(base: VecEnv, *, seed: int, normalize_obs: bool = True, normalize_reward: bool = True,
               gamma: float = 0.99) -> VecNormalize:
    """``base`` (any VecEnv, e.g. :class:`~agents.batched.BatchedVecEnv`) with episode statistics and
    (optionally) normalisation, seeded."""
    venv = VecMonitor(base)
    venv.seed(seed)
    return VecNormalize(venv, norm_obs=normalize_obs, norm_reward=normalize_reward, gamma=gamma, clip_obs=10.0)


def build_model(algorithm: str, venv: VecEnv, *, seed: int, **overrides: Any) -> BaseAlgorithm:
    """A new SB3 model with :data:`DEFAULTS` updated by ``overrides`` (SB3 keyword arguments)."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose from {sorted(ALGORITHMS)}")
    kwargs = {**DEFAULTS[algorithm], **overrides}
    if isinstance(venv, VecNormalize):
        venv.gamma = kwargs["gamma"]  # the reward normaliser discounts like the algorithm
    return quiet(ALGORITHMS[algorithm]("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **kwargs))


def quiet(model: BaseAlgorithm) -> BaseAlgorithm:
    """``model`` with a logger that writes nothing: SB3's default makes an empty folder in the system's temporary
    directory at every ``learn`` (``SB3-<time>``: hundreds per test run); our metrics go to MLflow."""
    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


class RLAgent(Agent):
    """A trained SB3 policy with its observation statistics; acts deterministically on raw observations."""

    def __init__(self, model: BaseAlgorithm, normalizer: VecNormalize | None, *, algorithm: str,
                 name: str | None = None) -> None:
        self.model, self.normalizer, self.algorithm = model, normalizer, algorithm
        self.name = name or algorithm

    def normalize(self, observation: np.ndarray) -> np.ndarray:
        if self.normalizer is None or not self.normalizer.norm_obs:
            return np.asarray(observation, dtype=np.float32)
        return self.normalizer.normalize_obs(np.asarray(observation, dtype=np.float32)).astype(np.float32)

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        # deterministic actions straight from the policy's action head, without SB3's per-call conversions
        # (MaskablePPO built 9 x 3 torch distributions a step, 1.7 ms): the same actions as its predict
        fast = isinstance(self.model, MaskablePPO) or (isinstance(self.model, PPO)
                                                       and not self.model.policy.squash_output)
        if fast:
            with torch.no_grad():
                obs = torch.as_tensor(self.normalize(observation)).reshape(1, -1)
                head = actor_output(self.model.policy, obs)[0].numpy()
        if isinstance(self.model, MaskablePPO):  # each entry's likeliest level the env's mask allows
            levels = int(self.model.action_space.nvec[0])
            mask = info.get("action_mask", np.ones(len(self.model.action_space.nvec), dtype=bool))
            allowed = discrete_mask(mask, levels).reshape(-1, levels)
            return values(levels)[np.where(allowed, head.reshape(-1, levels), -np.inf).argmax(axis=1)]
        if fast:  # PPO: its Gaussian's mean, clipped to the box
            space = self.model.action_space
            return np.clip(head, space.low, space.high).astype(np.float32)
        action, _ = self.model.predict(self.normalize(observation), deterministic=True)
        return np.asarray(action, dtype=np.float32)

    # ------------------------------------------------------------------------------ persistence

    def save(self, directory: Path) -> Path:
        """Model, observation statistics and metadata into ``directory`` (each file written atomically)."""
        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / MODEL_FILE) as tmp:
            self.model.save(tmp)
            _move_zip(tmp)
        if self.normalizer is not None:
            with atomic_path(directory / NORM_FILE) as tmp, open(tmp, "wb") as fh:
                pickle.dump(self.normalizer, fh)
        with atomic_path(directory / META_FILE) as tmp:
            tmp.write_text(json.dumps({"algorithm": self.algorithm, "name": self.name}))
        return directory

    @classmethod
    def load(cls, directory: Path, env: VecEnv | None = None) -> RLAgent:
        """Load what :meth:`save` wrote; ``env`` is only needed to continue training."""
        meta_path = directory / META_FILE
        if not meta_path.exists():
            raise FileNotFoundError(f"{meta_path}: not a saved RL agent (missing {META_FILE})")
        meta = json.loads(meta_path.read_text())
        model = ALGORITHMS[meta["algorithm"]].load(directory / MODEL_FILE, env=env, device="cpu")
        normalizer = None
        if (directory / NORM_FILE).exists():
            with open(directory / NORM_FILE, "rb") as fh:
                normalizer = pickle.load(fh)  # our own file, written by save()
            normalizer.training = False
        return cls(model, normalizer, algorithm=meta["algorithm"], name=meta["name"])

    def export_onnx(self, path: Path) -> Path:
        """The deterministic policy as ONNX: raw observation ``obs`` (batch, n) -> ``action`` (batch, m); a
        MaskablePPO policy also takes the env's ``action_mask`` (batch, m; 1 where an entry counts)."""
        n_obs = self.model.observation_space.shape[0]
        module = _OnnxPolicy(self.model, self.normalizer).eval()
        batch = torch.export.Dim("batch")
        inputs, names, shapes = (torch.zeros((1, n_obs), dtype=torch.float32),), ["obs"], {"obs": {0: batch}}
        if isinstance(self.model, MaskablePPO):
            inputs += (torch.ones((1, len(self.model.action_space.nvec)), dtype=torch.float32),)
            names.append("action_mask")
            shapes["action_mask"] = {0: batch}
        with torch.no_grad(), atomic_path(path) as tmp, _quiet_exporter():
            program = torch.onnx.export(module, inputs, input_names=names, output_names=["action"],
                                        dynamic_shapes=shapes, dynamo=True, verbose=False)
            program.save(str(tmp))
        return path


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """The exporter prints its stages and warns about operators of packages we do not use."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _move_zip(tmp: Path) -> None:
    """SB3 appends ``.zip`` to a path without that suffix; put the file where the atomic writer expects it."""
    written = tmp.with_name(tmp.name + ".zip")
    if written.exists():
        written.replace(tmp)


class _OnnxPolicy(torch.nn.Module):
    """Normalisation, the policy network and clipping as one traceable module."""

    def __init__(self, model: BaseAlgorithm, normalizer: VecNormalize | None) -> None:
        super().__init__()
        self.policy = model.policy
        norm = normalizer if normalizer is not None and normalizer.norm_obs else None
        n = model.observation_space.shape[0]
        mean = norm.obs_rms.mean if norm else np.zeros(n)
        std = np.sqrt(norm.obs_rms.var + norm.epsilon) if norm else np.ones(n)
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(std, dtype=torch.float32))
        self.clip_obs = float(norm.clip_obs) if norm else float("inf")

    def forward(self, obs: torch.Tensor, action_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = torch.clamp((obs - self.mean) / self.std, -self.clip_obs, self.clip_obs)
        if isinstance(self.policy, MaskableActorCriticPolicy):
            return _masked_mode(self.policy, x, action_mask)
        return torch.clamp(_deterministic_action(self.policy, x), -1.0, 1.0)


def _masked_mode(policy: MaskableActorCriticPolicy, x: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """The most likely level of each entry among those the mask allows (only 0 where the entry does not count),
    as its action value: what ``MaskablePPO.predict(deterministic=True)`` returns, in [-1, 1]."""
    levels = policy.action_net.out_features // action_mask.shape[1]
    logits = level_logits(policy, x, levels)
    middle = torch.arange(levels) == levels // 2
    allowed = (action_mask[:, :, None] > 0.5) | middle
    level = torch.argmax(torch.where(allowed, logits, torch.full_like(logits, -1e8)), dim=2)
    return level.to(torch.float32) * (2.0 / (levels - 1)) - 1.0


def _deterministic_action(policy: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The distribution's mode, computed without building the distribution (which cannot be exported)."""
    if isinstance(policy, SACPolicy):
        mean, _, _ = policy.actor.get_action_dist_params(x)
        return torch.tanh(mean)  # SAC squashes; the action space is [-1, 1], so no rescaling
    if isinstance(policy, ActorCriticPolicy):
        features = policy.extract_features(x, policy.pi_features_extractor)
        return policy.action_net(policy.mlp_extractor.forward_actor(features))
    raise TypeError(f"cannot export a {type(policy).__name__}")


class OnnxAgent(Agent):
    """An exported policy run by onnxruntime: what a deployment loads (no SB3 or torch needed)."""

    def __init__(self, path: Path, name: str = "onnx") -> None:
        import onnxruntime

        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.name = name
        masks = [i for i in self.session.get_inputs() if i.name == "action_mask"]
        self.mask_width = int(masks[0].shape[1]) if masks else None

    def act(self, observation: np.ndarray, info: dict[str, Any] | None = None) -> np.ndarray:
        feed = {"obs": np.asarray(observation, dtype=np.float32).reshape(1, -1)}
        if self.mask_width is not None:  # a MaskablePPO export: the env's mask, all entries when none is given
            mask = (info or {}).get("action_mask", np.ones(self.mask_width, dtype=bool))
            feed["action_mask"] = np.asarray(mask, dtype=np.float32).reshape(1, -1)
        return self.session.run(["action"], feed)[0][0]
