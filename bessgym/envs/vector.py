"""Native batched vector envs: N batteries (or N co-located sites) stepped as one set of arrays by the same
simulation core.

All sub-envs run in lock-step through the same delivery days (same start day, same stages), so one step
is one call of the core for all N; they differ by asset, forecast noise, actions and FCR activation.
Episodes end together and are reset in the same step (``AutoresetMode.SAME_STEP``): the returned
observation is the new episode's, the last one is in ``infos["final_obs"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from bessgym.assets.battery import BatterySpec
from bessgym.data.arrays import MarketArrays
from bessgym.envs.base import ObservationExtension, single_observation_space
from bessgym.envs.episode import Runner, make_runner
from bessgym.envs.options import EnvOptions
from bessgym.market.config import MarketConfig
from bessgym.market.products import STAGE_NAMES


def specs_for(spec_type: type, given: Any, num_envs: int, what: str) -> list[Any]:
    """``given``: one ``spec_type`` repeated for every sub-env, or one per sub-env (checked against ``num_envs``)."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be >= 1, got {num_envs}")
    specs = [given] * num_envs if isinstance(given, spec_type) else list(given)
    if len(specs) != num_envs:
        raise ValueError(f"got {len(specs)} {what} for num_envs={num_envs}")
    return specs


class RunnerVectorEnv(gym.vector.VectorEnv):
    """The Gymnasium vector front on a runner of N assets, one sub-env each (see the module docstring).
    Rewards, SoC and the cash-flow breakdown are arrays over sub-envs; the stage and the action mask are shared
    (lock-step)."""

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(self, runner: Runner, options: EnvOptions, *,
                 extension: ObservationExtension | None = None) -> None:
        self._runner, self._extension = runner, extension
        self.num_envs, self.options, self.reward_scale = runner.sim.n, options, options.reward_scale
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (runner.width,), np.float32)
        self.single_observation_space = single_observation_space(options, extension)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self._false = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._runner.begin(options, self.np_random)
        return self._observation(), self._infos()

    def step(self, actions):
        actions = np.asarray(actions, dtype=np.float64)
        if actions.shape != self.action_space.shape:
            raise ValueError(f"actions have shape {actions.shape}, expected {self.action_space.shape}")
        if not np.isfinite(actions).all() or np.abs(actions).max() > 1.0 + 1e-6:
            bad = np.argwhere(~np.isfinite(actions) | (np.abs(actions) > 1.0 + 1e-6))[0]
            raise ValueError(f"actions[{bad[0]}, {bad[1]}] = {actions[tuple(bad)]} is not a finite value in [-1, 1] "
                             f"(stage {STAGE_NAMES[self._runner.current[0]]})")
        r = self._runner
        r.step(actions)
        rewards = r.reward() * self.reward_scale
        infos = self._infos()
        truncated = np.full(self.num_envs, r.done)
        if r.done:
            infos["final_obs"] = self._observation()
            infos["_final_obs"] = np.ones(self.num_envs, dtype=bool)
            infos["final_info"] = self._infos()
            self._runner.begin(None, self.np_random)
        return self._observation(), rewards, self._false.copy(), truncated, infos

    def _observation(self) -> np.ndarray:
        core = self._runner.observation()
        return core if self._extension is None else self._extension.observation(self._runner, core)

    def _infos(self) -> dict[str, Any]:
        r = self._runner
        return {
            "stage": STAGE_NAMES[r.current[0]] if not r.done else "done",
            "action_mask": r.action_mask(),
            "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending, strict=True)),
            "soc_mwh": r.sim.soc_mwh,
            "clipped_mw": r.clipped_mw,
        }


class BESSVectorEnv(RunnerVectorEnv):
    """``num_envs`` batteries in the markets of :class:`~bessgym.envs.SingleBESSEnv`, batched.

    Takes the arguments of ``SingleBESSEnv`` (``battery`` may be one spec or one per sub-env), plus
    ``num_envs``. The option ``track_soh`` is off by default (rainflow runs per asset at day end).
    """

    def __init__(self, num_envs: int = 16, market: pd.DataFrame | str | MarketArrays | None = None,
                 battery: BatterySpec | Sequence[BatterySpec] = BatterySpec(),
                 market_config: MarketConfig | None = None, *, options: EnvOptions | None = None,
                 **overrides: Any) -> None:
        specs = specs_for(BatterySpec, battery, num_envs, "battery specs")
        opts = EnvOptions.of(options or EnvOptions(track_soh=False), market_config, **overrides)
        super().__init__(make_runner(market, specs, opts, user=type(self).__name__), opts)
