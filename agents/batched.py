"""Training on the native batched env: an SB3 ``VecEnv`` over groups of :class:`~bessgym.envs.vector.BESSVectorEnv`
(or :class:`~bessgym.envs.colocated.CoLocatedVectorEnv`).

The copies of one native vector env run in lock-step through the same delivery days, so a rollout from one of
them would see one day many times. :class:`BatchedVecEnv` therefore holds ``groups`` native envs, each drawing
its own days, and steps each group's copies in one call of the simulation core: ``groups`` calls per step
instead of ``groups x copies`` env steps in Python. The SB3 conventions hold: auto-reset in the same step, the
last observation in ``info["terminal_observation"]``, ``TimeLimit.truncated`` for the day's end; SB3's
``VecMonitor`` and ``VecNormalize`` go on top as on any VecEnv.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvStepReturn


class BatchedVecEnv(VecEnv):
    """Native vector envs (same-step auto-reset, equal single spaces) as one SB3 ``VecEnv`` of all their copies,
    group after group. Seeds from :meth:`seed` go to the groups (group g: the seed of its first copy)."""

    def __init__(self, groups: Sequence[gym.vector.VectorEnv]) -> None:
        if not groups:
            raise ValueError("give at least one vector env")
        self.groups = list(groups)
        first = self.groups[0]
        for g in self.groups[1:]:
            if g.single_observation_space != first.single_observation_space or \
                    g.single_action_space != first.single_action_space:
                raise ValueError("the vector envs' single observation and action spaces differ")
        self.sizes = [g.num_envs for g in self.groups]
        self.starts = np.cumsum([0, *self.sizes])
        self.render_mode = None
        super().__init__(int(self.starts[-1]), first.single_observation_space, first.single_action_space)
        self._actions: np.ndarray | None = None
        # each copy's info["action_mask"] for its coming step (a group's copies share theirs: lock-step)
        self.action_mask = np.ones((self.num_envs, first.single_action_space.shape[0]), dtype=bool)

    def reset(self) -> np.ndarray:
        observations = []
        for k, group in enumerate(self.groups):
            seed = self._seeds[self.starts[k]]
            obs, info = group.reset(seed=seed)
            self.action_mask[self.starts[k]:self.starts[k + 1]] = info["action_mask"]
            observations.append(obs)
        self._reset_seeds()
        return np.concatenate(observations)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait() without step_async()")
        observations, rewards, dones, infos = [], [], [], []
        for k, group in enumerate(self.groups):
            obs, reward, terminated, truncated, info = group.step(self._actions[self.starts[k]:self.starts[k + 1]])
            self.action_mask[self.starts[k]:self.starts[k + 1]] = info["action_mask"]
            done = terminated | truncated
            final = info.get("final_obs")
            for i in range(group.num_envs):  # as SB3's DummyVecEnv reports them
                entry: dict[str, Any] = {"TimeLimit.truncated": bool(truncated[i] and not terminated[i])}
                if done[i]:
                    entry["terminal_observation"] = final[i]
                infos.append(entry)
            observations.append(obs)
            rewards.append(reward)
            dones.append(done)
        self._actions = None
        return (np.concatenate(observations), np.concatenate(rewards).astype(np.float32), np.concatenate(dones),
                infos)

    def close(self) -> None:
        for group in self.groups:
            group.close()

    def _groups_of(self, indices: VecEnvIndices) -> list[int]:
        return [int(np.searchsorted(self.starts, i, side="right") - 1) for i in self._get_indices(indices)]

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(list(self._get_indices(indices)))
        return [getattr(self.groups[k], attr_name) for k in self._groups_of(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        for k in set(self._groups_of(indices)):
            setattr(self.groups[k], attr_name, value)

    def env_method(self, method_name: str, *method_args, indices: VecEnvIndices = None, **method_kwargs) -> list:
        return [getattr(self.groups[k], method_name)(*method_args, **method_kwargs) for k in self._groups_of(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(list(self._get_indices(indices)))


def batched_vec_env(make_group: Callable[[int], gym.vector.VectorEnv], groups: int) -> BatchedVecEnv:
    """``groups`` native vector envs from ``make_group(k)`` as one SB3 VecEnv."""
    if groups < 1:
        raise ValueError(f"groups must be >= 1, got {groups}")
    return BatchedVecEnv([make_group(k) for k in range(groups)])
