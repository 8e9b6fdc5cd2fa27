"""Behaviour cloning: a PPO policy pre-trained on what an LP baseline does in the env, before RL fine-tunes it.

The demonstrations are the LP's own actions in the env (:class:`~agents.base.DelegateAgent` on the env's
forecasts), recorded with the observations the policy sees, on the training market only. Cloning fits the
policy's mean action to the demonstrated one (mean squared error, the exploration noise left as it is) on
observations normalised by the training env's ``VecNormalize``, whose statistics are first updated from the
demonstrations, so the fine-tuning starts from the cloned policy's inputs; the exploration noise is then set
small, so RL explores around the cloned actions. :func:`warm_up_critic` fits the value function to the
demonstrations' discounted returns (normalised as the training env's ``VecNormalize`` normalises rewards), so
the first RL updates do not judge the cloned actions by an untrained critic.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.base import Agent


class Demonstrations(NamedTuple):
    """What an agent did, step by step: observations and actions (float32), the env's rewards and the
    episodes' last steps."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    ends: np.ndarray


def demonstrations(make_env: Callable[[], gym.Env], agent: Agent, episodes: int, *,
                   seed: int = 0) -> Demonstrations:
    """``agent`` over ``episodes`` episodes of ``make_env()``, each reset with its own seed (so its own day)."""
    env = make_env()
    observations, actions, rewards, ends = [], [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        agent.reset(env)
        done = False
        while not done:
            action = np.clip(agent.act(obs, info), -1.0, 1.0)
            observations.append(obs)
            actions.append(action)
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            rewards.append(reward)
            ends.append(done)
    return Demonstrations(np.asarray(observations, dtype=np.float32), np.asarray(actions, dtype=np.float32),
                          np.asarray(rewards, dtype=np.float64), np.asarray(ends, dtype=bool))


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
    losses = _fit(lambda obs: policy.get_distribution(obs).distribution.mean, policy, observations, actions,
                  epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed)
    with torch.no_grad():
        policy.log_std.fill_(float(np.log(exploration_std)))
    return losses


def warm_up_critic(model: PPO, normalizer: VecNormalize | None, demos: Demonstrations, *, epochs: int = 20,
                   batch_size: int = 256, learning_rate: float = 1e-3, seed: int = 0) -> list[float]:
    """Fit ``model``'s value function to the discounted returns of ``demos`` (see the module docstring; run after
    :func:`clone`, whose update of the observation statistics it uses); returns the mean loss of every epoch."""
    gamma = model.gamma
    rewards = demos.rewards
    if normalizer is not None and normalizer.norm_reward:  # as VecNormalize: the running discounted return's std
        running, ret = np.empty_like(rewards), 0.0
        for k, (r, end) in enumerate(zip(rewards, demos.ends, strict=True)):
            ret = ret * gamma + r
            running[k] = ret
            ret = 0.0 if end else ret
        normalizer.ret_rms.update(running)
        rewards = np.clip(rewards / np.sqrt(normalizer.ret_rms.var + normalizer.epsilon), -normalizer.clip_reward,
                          normalizer.clip_reward)
    returns, ret = np.empty_like(rewards), 0.0
    for k in range(len(rewards) - 1, -1, -1):  # each episode ends its returns (the day's last step: nothing after)
        ret = rewards[k] + (0.0 if demos.ends[k] else gamma * ret)
        returns[k] = ret
    observations = demos.observations
    if normalizer is not None and normalizer.norm_obs:
        observations = normalizer.normalize_obs(observations).astype(np.float32)
    policy = model.policy
    return _fit(lambda obs: policy.predict_values(obs).flatten(), policy, observations,
                returns.astype(np.float32), epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                seed=seed)


def _fit(predict: Callable[[torch.Tensor], torch.Tensor], policy: torch.nn.Module, inputs: np.ndarray,
         targets: np.ndarray, *, epochs: int, batch_size: int, learning_rate: float, seed: int) -> list[float]:
    """Minibatch Adam on the mean squared error of ``predict(inputs)`` against ``targets``; the mean loss of every
    epoch."""
    x, y = torch.as_tensor(inputs), torch.as_tensor(targets)
    optimizer = torch.optim.Adam(policy.parameters(), lr=learning_rate)
    rng = np.random.default_rng(seed)
    losses = []
    policy.set_training_mode(True)
    for _ in range(epochs):
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = torch.as_tensor(order[start:start + batch_size])
            loss = torch.nn.functional.mse_loss(predict(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(order))
    policy.set_training_mode(False)
    return losses
