"""Behaviour cloning: a PPO or MaskablePPO policy pre-trained on what an LP baseline does in the env, before RL
fine-tunes it.

The demonstrations are the LP's own actions in the env (:class:`~agents.base.DelegateAgent` on the env's
forecasts), recorded with the observations the policy sees, on the training market only. Cloning fits PPO's
mean action to the demonstrated one (mean squared error, the exploration noise left as it is), or MaskablePPO's
levels to the demonstrated one's nearest level (cross-entropy), on observations normalised by the training
env's ``VecNormalize``, whose statistics are first updated from the demonstrations, so the fine-tuning starts
from the cloned policy's inputs; PPO's exploration noise is then set small, so RL explores around the cloned
actions. :func:`warm_up_critic` fits the value function to the demonstrations' discounted returns (normalised
as the training env's ``VecNormalize`` normalises rewards), so the first RL updates do not judge the cloned
actions by an untrained critic.

The LP acts bang-bang (full power or nothing, in 95 % of its intraday decisions): where the states do not tell
the modes apart, a mean-squared-error clone answers their mean, a small trade that pays fees and losses for
little spread (in 81 % of its decisions on ``intraday-2h``); a categorical clone answers the likelier mode.

A clone drifts from the states the LP showed it, and nothing in the demonstrations says how to come back
(compounding errors). :func:`dagger` (DAgger, Ross, Gordon and Bagnell 2011) lets the clone act, has an
expert that re-plans from any state label every state it reaches (the rolling-intrinsic LP: the rest of the
day re-optimised from the SoC reached), and clones again on all labels so far.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecNormalize

from agents.base import Agent
from agents.masked import level_logits
from agents.rl import RLAgent


class Demonstrations(NamedTuple):
    """What an agent did, step by step: observations and actions (float32), the env's rewards and the
    episodes' last steps."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    ends: np.ndarray


def demonstrations(make_env: Callable[[], gym.Env], agent: Agent, episodes: int, *, seed: int = 0,
                   expert: Agent | None = None) -> Demonstrations:
    """``agent`` over ``episodes`` episodes of ``make_env()``, each reset with its own seed (so its own day).
    With ``expert``, the agent acts and the actions recorded are the expert's in the states the agent reached
    (DAgger's labels); the rewards are always those of the actions taken."""
    env = make_env()
    observations, actions, rewards, ends = [], [], [], []
    for episode in range(episodes):
        obs, info = env.reset(seed=seed + episode)
        for who in (agent, expert):
            if who is not None:
                who.reset(env)
        done = False
        while not done:
            action = np.clip(agent.act(obs, info), -1.0, 1.0)
            observations.append(obs)
            actions.append(action if expert is None else np.clip(expert.act(obs, info), -1.0, 1.0))
            obs, reward, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            rewards.append(reward)
            ends.append(done)
    return Demonstrations(np.asarray(observations, dtype=np.float32), np.asarray(actions, dtype=np.float32),
                          np.asarray(rewards, dtype=np.float64), np.asarray(ends, dtype=bool))


def clone(model: PPO | MaskablePPO, normalizer: VecNormalize | None, observations: np.ndarray, actions: np.ndarray, *,
          epochs: int = 20, batch_size: int = 256, learning_rate: float = 1e-3, exploration_std: float = 0.1,
          seed: int = 0, seen: int = 0) -> list[float]:
    """Fit ``model``'s mean action (PPO) or levels (MaskablePPO) to ``actions`` on ``observations`` (see the
    module docstring) and set PPO's exploration noise to ``exploration_std`` (its default, 1, would bury the
    cloned actions, which lie in [-1, 1], in noise once RL starts); returns the mean loss of every epoch.
    ``seen``: the first observations are already in the normaliser's statistics (an earlier clone's)."""
    if not isinstance(model, PPO | MaskablePPO):
        raise TypeError("behaviour cloning pre-trains a PPO policy (a Gaussian actor with a mean action) or a "
                        "MaskablePPO policy (a categorical actor over each entry's levels)")
    if len(observations) != len(actions) or len(observations) == 0:
        raise ValueError(f"need as many observations as actions, and some: {len(observations)}, {len(actions)}")
    if normalizer is not None and normalizer.norm_obs:
        if len(observations) > seen:
            normalizer.obs_rms.update(observations[seen:])
        observations = normalizer.normalize_obs(observations).astype(np.float32)
    policy = model.policy
    fit = {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate, "seed": seed}
    if isinstance(model, MaskablePPO):  # the nearest level of every entry, by cross-entropy
        levels = int(model.action_space.nvec[0])
        targets = np.rint((np.clip(actions, -1.0, 1.0) + 1.0) * (levels - 1) / 2).astype(np.int64)
        return _fit(lambda obs: level_logits(policy, obs, levels), _cross_entropy, policy, observations, targets,
                    **fit)
    losses = _fit(lambda obs: policy.get_distribution(obs).distribution.mean, torch.nn.functional.mse_loss, policy,
                  observations, actions, **fit)
    with torch.no_grad():
        policy.log_std.fill_(float(np.log(exploration_std)))
    return losses


def _cross_entropy(logits: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """The mean cross-entropy of every entry's level (logits (batch, W, L), levels (batch, W))."""
    return torch.nn.functional.cross_entropy(logits.transpose(1, 2), levels)


class Round(NamedTuple):
    """One DAgger round: the states the clone reached and the expert's actions there, the gap between the
    clone's and the expert's actions in them before it learns them (per state the largest absolute difference
    of an entry, averaged), and the clone's last epoch loss on all labels so far."""

    observations: np.ndarray
    labels: np.ndarray
    gap: float
    loss: float


def dagger(model: PPO | MaskablePPO, normalizer: VecNormalize | None, make_env: Callable[[], gym.Env], expert: Agent,
           demos: Demonstrations, *, rounds: int, episodes: int, epochs: int = 20, seed: int = 0) -> list[Round]:
    """``rounds`` of DAgger after cloning ``demos`` (see the module docstring): the deterministic clone runs
    ``episodes`` episodes of ``make_env()`` (seeds after those of the demonstrations), ``expert`` labels every
    state, and :func:`clone` fits the policy to all labels so far. The expert and the clone's inputs are the
    env's, so the expert labels with the forecasts the clone sees."""
    algorithm = "maskable_ppo" if isinstance(model, MaskablePPO) else "ppo"
    learner = RLAgent(model, normalizer, algorithm=algorithm, name="clone")
    observations, actions = demos.observations, demos.actions
    out = []
    for k in range(1, rounds + 1):
        new = demonstrations(make_env, learner, episodes, seed=seed + 100_000 * k, expert=expert)
        taken = np.stack([learner.act(o, {}) for o in new.observations])
        gap = float(np.abs(np.clip(taken, -1.0, 1.0) - new.actions).max(axis=1).mean())
        seen = len(observations)
        observations = np.concatenate([observations, new.observations])
        actions = np.concatenate([actions, new.actions])
        losses = clone(model, normalizer, observations, actions, epochs=epochs, seed=seed + k, seen=seen)
        out.append(Round(new.observations, new.actions, gap, losses[-1]))
    return out


def warm_up_critic(model: PPO | MaskablePPO, normalizer: VecNormalize | None, demos: Demonstrations, *,
                   epochs: int = 20, batch_size: int = 256, learning_rate: float = 1e-3, seed: int = 0) -> list[float]:
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
    return _fit(lambda obs: policy.predict_values(obs).flatten(), torch.nn.functional.mse_loss, policy,
                observations, returns.astype(np.float32), epochs=epochs, batch_size=batch_size,
                learning_rate=learning_rate, seed=seed)


def _fit(predict: Callable[[torch.Tensor], torch.Tensor],
         loss_of: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], policy: torch.nn.Module, inputs: np.ndarray,
         targets: np.ndarray, *, epochs: int, batch_size: int, learning_rate: float, seed: int) -> list[float]:
    """Minibatch Adam on ``loss_of(predict(inputs), targets)``; the mean loss of every epoch."""
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
            loss = loss_of(predict(x[idx]), y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(order))
    policy.set_training_mode(False)
    return losses
