"""Behaviour cloning: a PPO policy pre-trained on what an LP baseline does in the env, before RL fine-tunes it.

The demonstrations are the LP's own actions in the env (:class:`~agents.base.DelegateAgent` on the env's
forecasts), recorded with the observations the policy sees, on the training market only. Cloning fits the
policy's mean action to the demonstrated one (mean squared error, the exploration noise left as it is) on
observations normalised by the training env's ``VecNormalize``, whose statistics are first updated from the
demonstrations, so the fine-tuning starts from the cloned policy's inputs; the exploration noise is then set
small, so RL explores around the cloned actions.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.base import Agent


def demonstrations(make_env: Callable[[], gym.Env], agent: Agent, episodes: int, *,
                   seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Observations and actions (float32) of ``agent`` over ``episodes`` episodes of ``make_env()``, each
    reset with its own seed (so with its own day)."""
    env = make_env()
    observations, actions = [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        agent.reset(env)
        done = False
        while not done:
            action = np.clip(agent.act(obs, info), -1.0, 1.0)
            observations.append(obs)
            actions.append(action)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
    return np.asarray(observations, dtype=np.float32), np.asarray(actions, dtype=np.float32)


def clone(model: PPO, normalizer: VecNormalize | None, observations: np.ndarray, actions: np.ndarray, *,
          epochs: int = 20, batch_size: int = 256, learning_rate: float = 1e-3, exploration_std: float = 0.1,
          seed: int = 0) -> list[float]:
    """Fit ``model``'s mean action to ``actions`` on ``observations`` (see the module docstring) and set the
    policy's exploration noise to ``exploration_std`` (its default, 1, would bury the cloned actions, which lie
    in [-1, 1], in noise once RL starts); returns the mean loss of every epoch."""
    if not isinstance(model, PPO):
        raise TypeError("behaviour cloning pre-trains a PPO policy (a Gaussian actor with a mean action)")
    if len(observations) != len(actions) or len(observations) == 0:
        raise ValueError(f"need as many observations as actions, and some: {len(observations)}, {len(actions)}")
    if normalizer is not None and normalizer.norm_obs:
        normalizer.obs_rms.update(observations)
        observations = normalizer.normalize_obs(observations).astype(np.float32)
    policy = model.policy
    obs_t, act_t = torch.as_tensor(observations), torch.as_tensor(actions)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    losses = []
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = rng.permutation(len(obs_t))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = torch.as_tensor(order[start:start + batch_size])
            mean = policy.get_distribution(obs_t[idx]).distribution.mean
            loss = torch.nn.functional.mse_loss(mean, act_t[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(order))
    policy.set_training_mode(False)
    with torch.no_grad():
        policy.log_std.fill_(float(np.log(exploration_std)))
    return losses
