"""MaskablePPO (sb3-contrib) on the env's action mask: every action entry discretised to ``levels`` values.

The env's ``info["action_mask"]`` says which entries of its ``Box(-1, 1, (W,))`` count in the coming stage (the
six FCR blocks in the capacity stage, one trade at delivery, ...). :class:`DiscreteActions` turns the box into
``MultiDiscrete([levels] * W)`` with values ``linspace(-1, 1, levels)`` (``levels`` odd, so 0 is one of them)
and offers MaskablePPO the mask of the discrete choices: an entry that does not count may only take 0, so the
policy spends neither entropy nor gradient on it.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

LEVELS = 21


def values(levels: int) -> np.ndarray:
    """The action value of each level: ``levels`` points from -1 to 1 (0 in the middle)."""
    if levels < 3 or levels % 2 == 0:
        raise ValueError(f"levels must be odd and >= 3 (0 must be a level), got {levels}")
    return np.linspace(-1.0, 1.0, levels, dtype=np.float32)


def discrete_mask(action_mask: np.ndarray, levels: int) -> np.ndarray:
    """The env's mask (..., W) as MaskablePPO's (..., W x levels): all levels where an entry counts, else only 0."""
    counts = np.asarray(action_mask, dtype=bool)[..., None]
    middle = np.arange(levels) == levels // 2
    allowed = counts | middle
    return allowed.reshape(*allowed.shape[:-2], -1)


def actor_output(policy: torch.nn.Module, obs: torch.Tensor) -> torch.Tensor:
    """An actor-critic policy's action head for normalised ``obs`` (batch, width): PPO's mean action,
    MaskablePPO's flat logits."""
    latent = policy.mlp_extractor.forward_actor(policy.extract_features(obs, policy.pi_features_extractor))
    return policy.action_net(latent)


def level_logits(policy: torch.nn.Module, obs: torch.Tensor, levels: int) -> torch.Tensor:
    """A MaskablePPO policy's unmasked logits of every entry's levels (batch, W, levels) for normalised ``obs``."""
    return actor_output(policy, obs).reshape(obs.shape[0], -1, levels)


class DiscreteActions(gym.ActionWrapper):
    """An env with a ``Box(-1, 1, (W,))`` action and ``info["action_mask"]`` as ``MultiDiscrete([levels] * W)``
    with :meth:`action_masks` for MaskablePPO."""

    def __init__(self, env: gym.Env, levels: int = LEVELS) -> None:
        super().__init__(env)
        self.values = values(levels)
        self.levels = levels
        width = env.action_space.shape[0]
        self.action_space = gym.spaces.MultiDiscrete(np.full(width, levels))
        self._mask = np.ones(width, dtype=bool)

    def reset(self, **kwargs: Any):
        obs, info = self.env.reset(**kwargs)
        self._mask = np.asarray(info["action_mask"], dtype=bool)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(self.action(action))
        self._mask = np.asarray(info.get("action_mask", self._mask), dtype=bool)
        return obs, reward, terminated, truncated, info

    def action(self, action) -> np.ndarray:
        return self.values[np.asarray(action, dtype=np.int64)]

    def action_masks(self) -> np.ndarray:
        return discrete_mask(self._mask, self.levels)


class DiscreteVecActions(VecEnvWrapper):
    """:class:`DiscreteActions` for a :class:`~agents.batched.BatchedVecEnv`: MaskablePPO asks every copy's
    ``action_masks`` through ``env_method``, answered here from the copies' latest ``action_mask``."""

    def __init__(self, venv: VecEnv, levels: int = LEVELS) -> None:
        width = venv.action_space.shape[0]
        super().__init__(venv, action_space=gym.spaces.MultiDiscrete(np.full(width, levels)))
        self.values, self.levels = values(levels), levels

    def reset(self) -> np.ndarray:
        return self.venv.reset()

    def step_async(self, actions: np.ndarray) -> None:
        self.venv.step_async(self.values[np.asarray(actions, dtype=np.int64)])

    def step_wait(self):
        return self.venv.step_wait()

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list:
        if method_name == "action_masks":
            return list(discrete_mask(self.venv.action_mask[list(self._get_indices(indices))], self.levels))
        return self.venv.env_method(method_name, *method_args, indices=indices, **method_kwargs)

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or self.venv.has_attr(attr_name)
