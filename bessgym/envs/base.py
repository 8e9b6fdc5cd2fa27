"""The Gymnasium front every env shares: spaces, reset, step, action checks, reward and info, around a runner.

An env is composed, not derived: it builds its runner (the simulation core for its assets, see
:mod:`bessgym.envs.episode`) and hands it to :class:`BESSEnv` with its :class:`EnvOptions` and, where its
observation has more than the core's, an :class:`ObservationExtension`. A pooled env (the portfolio) repeats
one action for every asset, sums their rewards and observes their power-weighted average.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from numba import njit

from bessgym.envs.core import Simulator
from bessgym.envs.episode import Runner
from bessgym.envs.layout import Layout, stage_layout
from bessgym.envs.observation import OBS_LIMIT, observation_layout, observation_size
from bessgym.envs.options import EnvOptions
from bessgym.envs.view import DayView
from bessgym.market.products import STAGE_NAMES, Stage


class ObservationExtension(Protocol):
    """Entries an env appends to the core's observation (e.g. a site's PV): ``parts`` (name, size, meaning)."""

    size: int
    parts: tuple[tuple[str, int, str], ...]

    def observation(self, runner: Runner, core: np.ndarray, q: int | None = None) -> np.ndarray:
        """The whole observation (float32) from the core's (the asset's, or the pooled average), at the runner's
        quarter-hour or at ``q`` (a live observation)."""
        ...


def single_observation_space(options: EnvOptions, extension: ObservationExtension | None) -> gym.spaces.Box:
    """One asset's observation space: the core's (with the options' features) and the extension's entries."""
    size = observation_size(options.horizon_qh, options.observation_features) + (
        extension.size if extension is not None else 0)
    return gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, (size,), np.float32)


class BESSEnv(gym.Env):
    """One actor in the German markets over a runner's assets; see :class:`~bessgym.envs.SingleBESSEnv` for
    the spaces, rewards and episode end that every env shares."""

    metadata = {"render_modes": []}

    def __init__(self, runner: Runner, options: EnvOptions, *, extension: ObservationExtension | None = None,
                 pooled: bool = False, reports_soh: bool = True) -> None:
        self._runner, self.options, self._extension = runner, options, extension
        self.market_config, self.reward_scale, self.horizon_qh = (options.market_config, options.reward_scale,
                                                                   options.horizon_qh)
        self._pooled, self._reports_soh = pooled, reports_soh
        power = runner.sim.fleet.power_mw
        self._weights = power / power.sum() if pooled else None
        self.action_space = gym.spaces.Box(-1.0, 1.0, (runner.width,), np.float32)
        self.observation_space = single_observation_space(options, extension)

    @property
    def observation_layout(self) -> Layout:
        """The observation's entries by name (``obs[env.observation_layout.soc]``)."""
        extra = self._extension.parts if self._extension is not None else ()
        return observation_layout(self.horizon_qh, self.options.observation_features, extra)

    def action_layout(self, stage: Stage | str) -> Layout:
        """One asset's action entries at ``stage`` by name (the first of the action's entries; the rest of the
        Box, as wide as the widest stage the agent decides, is ignored there); a site's PV entries follow the
        battery's."""
        stage = Stage[stage.upper()] if isinstance(stage, str) else stage
        parts = [(e.name, e.size, e.meaning) for e in stage_layout(stage).entries]
        return Layout(parts + list(self._runner.sim.action_parts.get(stage, ())))

    @property
    def simulator(self) -> Simulator:
        return self._runner.sim

    @property
    def day_view(self) -> DayView:
        """The open day as policies see it, read-only (:mod:`bessgym.envs.view`)."""
        return self._runner.view

    @property
    def runner(self) -> Runner:
        """The episode runner (stages, pending cash, dispatch recording, live observations)."""
        return self._runner

    def live_observation(self, q: int, soc_mwh: np.ndarray) -> np.ndarray:
        """The agent's delivery observation at quarter-hour ``q`` of the open day with every asset's SoC [MWh]
        from telemetry (deployment: the day's commitments are the env's, prices the table's)."""
        core = self._runner.live_observation(q, soc_mwh, self._weights)
        core = core if self._pooled else core[0]
        return core if self._extension is None else self._extension.observation(self._runner, core, q)

    @property
    def decision_point(self) -> tuple[str, str, int]:
        """The coming decision: stage name, delivery date (ISO), quarter-hour (-1 before delivery)."""
        r = self._runner
        day = r.sim.market.day_names[r.sim.day_number]
        if r.done:
            return "done", day, -1
        stage, q = r.current
        return STAGE_NAMES[stage], day, q

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self._runner.begin(options, self.np_random)
        return self._observation(), self._info()

    def step(self, action):
        r = self._runner
        if r.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        _check_action(action, r)
        if self._pooled:
            r.step(action[None].repeat(r.sim.n, axis=0))  # 3x faster than np.broadcast_to
            reward = float(r.pending.sum())
        else:
            r.step(action[None, :])
            reward = float(r.reward()[0])
        return self._observation(), reward * self.reward_scale, False, r.done, self._info()

    def _observation(self) -> np.ndarray:
        core = self._runner.observation(self._weights) if self._pooled else self._runner.observation()[0]
        return core if self._extension is None else self._extension.observation(self._runner, core)

    def _info(self) -> dict[str, Any]:
        r = self._runner
        stage, delivery_date, q = self.decision_point
        if self._pooled:
            info = {"stage": stage, "action_mask": r.action_mask(), "delivery_date": delivery_date,
                    "quarter_hour": q,
                    "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending.sum(axis=1).tolist(), strict=True)),
                    "asset_cash_eur": r.pending.sum(axis=0), "soc_mwh": r.sim.soc_mwh.copy(),
                    "available": r.sim.available.copy(), "clipped_mw": float(r.clipped_mw.sum())}
            if r.report:
                info["physics"] = dict(r.report)  # the step's own arrays (see Simulator.deliver)
            return info
        info = {
            "stage": stage,
            "action_mask": r.action_mask(),
            "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending[:, 0].tolist(), strict=True)),
            "soc_mwh": float(r.sim.soc_mwh[0]),
            "delivery_date": delivery_date,
            "quarter_hour": q,
            "clipped_mw": float(r.clipped_mw[0]),
        }
        if self._reports_soh:
            info["soh"] = float(r.soh[0])
        if r.report:
            info["physics"] = {k: float(v[0]) for k, v in r.report.items()}
        return info


@njit(cache=True)
def _in_box(action, bound):
    """Whether every entry is within [-bound, bound] (False for NaN): one compiled pass, as this runs every step."""
    for x in action:
        if not abs(x) <= bound:
            return False
    return True


_ACTION_BOUND = 1.0 + 1e-6  # [-1, 1] and float32 rounding


def _check_action(action: np.ndarray, runner: Runner) -> None:
    """Reject NaN/inf and out-of-space actions with the offending entry and stage named."""
    if action.shape == (runner.width,) and _in_box(action, _ACTION_BOUND):
        return
    stage = STAGE_NAMES[runner.current[0]]
    if action.shape != (runner.width,):
        raise ValueError(f"action has shape {action.shape}, expected ({runner.width},) (stage {stage})")
    bad = ~np.isfinite(action)
    if bad.any():
        raise ValueError(f"action[{int(np.argmax(bad))}] is {action[bad][0]} (stage {stage}): actions must be finite")
    i = int(np.argmax(np.abs(action) > _ACTION_BOUND))
    raise ValueError(f"action[{i}] = {action[i]:g} is outside [-1, 1] (stage {stage})")
