"""The portfolio as a PettingZoo ParallelEnv: one agent per asset, the market still pooled.

Every agent ``asset_i`` sees its own observation (the ``SingleBESS-v1`` observation of its battery, then its
availability and its PV now over its connection) and sends its own action at the common stage; the
portfolio rounds the sum of their bids to the products' grids, re-dispatches around outages and nets
opposite intraday trades (:mod:`bessgym.envs.portfolio_core`). An agent's reward is its own settlement, so
the rewards sum to the portfolio's cash flow. All agents finish together when the episode is truncated.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo import ParallelEnv

from bessgym.assets.site import SiteSpec
from bessgym.envs.observation import OBS_LIMIT, observation_size
from bessgym.envs.options import EnvOptions
from bessgym.envs.portfolio import default_portfolio, make_portfolio_runner
from bessgym.envs.portfolio_core import Reliability
from bessgym.envs.view import DayView
from bessgym.market.products import STAGE_NAMES


class PortfolioParallelEnv(ParallelEnv):
    """Per-asset view of :class:`~bessgym.envs.portfolio.PortfolioEnv`; takes the same arguments."""

    metadata = {"render_modes": [], "name": "bessgym_portfolio_v0"}

    def __init__(self, market=None, sites: Sequence[SiteSpec] | None = None, market_config=None, *,
                 reliability: Sequence[Reliability] | Reliability | None = None, options: EnvOptions | None = None,
                 **overrides: Any) -> None:
        self.sites = tuple(sites) if sites is not None else default_portfolio()
        self.options = EnvOptions.of(options, market_config, **overrides)
        reliability = reliability or Reliability(mtbf_h=2_000.0, mttr_h=24.0)
        self._runner = make_portfolio_runner(market, self.sites, reliability, self.options, user=type(self).__name__)
        self.possible_agents = [f"asset_{i}" for i in range(len(self.sites))]
        self.agents: list[str] = []
        size = observation_size(self.options.horizon_qh, self.options.observation_features) + 2
        self._observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, (size,), np.float32)
        self._action_space = gym.spaces.Box(-1.0, 1.0, (self._runner.width,), np.float32)
        self._rng = np.random.default_rng()

    @property
    def day_view(self) -> DayView:
        """The open day as policies see it, read-only (:mod:`bessgym.envs.view`)."""
        return self._runner.view

    @property
    def simulator(self):
        """The portfolio's simulation core (its fleet, market and day), as ``PortfolioEnv.simulator``."""
        return self._runner.sim

    @property
    def cash_flows(self) -> tuple[str, ...]:
        """Names of the cash flows in each agent's ``info["cash_flow_eur"]`` and in recorded dispatch."""
        return self._runner.sim.cash_flows

    def recording(self) -> AbstractContextManager[list[dict[str, np.ndarray]]]:
        """Record every delivery quarter-hour of all assets while the block runs
        (:meth:`~bessgym.envs.episode.Runner.recording`)."""
        return self._runner.recording()

    def observation_space(self, agent: str) -> gym.spaces.Box:
        return self._observation_space  # the same for every agent

    def action_space(self, agent: str) -> gym.spaces.Box:
        return self._action_space

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None or not hasattr(self, "_seeded"):
            self._rng, self._seeded = np.random.default_rng(seed), True
        self._runner.begin(options, self._rng)
        self.agents = list(self.possible_agents)
        return self._observations(), self._infos()

    def step(self, actions: dict[str, np.ndarray]):
        if self._runner.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {missing}")
        stacked = np.stack([np.asarray(actions[a], dtype=np.float64).reshape(-1) for a in self.agents])
        if not np.isfinite(stacked).all() or np.abs(stacked).max() > 1.0 + 1e-6:
            raise ValueError("actions must be finite and within [-1, 1]")
        self._runner.step(stacked)
        rewards = dict(zip(self.agents, self._runner.reward().tolist(), strict=True))
        done = self._runner.done
        observations, infos = self._observations(), self._infos()
        terminations = dict.fromkeys(self.agents, False)
        truncations = dict.fromkeys(self.agents, done)
        if done:
            self.agents = []
        return observations, rewards, terminations, truncations, infos

    def _observations(self) -> dict[str, np.ndarray]:
        r = self._runner
        sim = r.sim
        pv_now = sim.pv_now_mw(r.quarter_hour) / sim.grid_mw
        extra = np.stack([sim.available.astype(float), pv_now], axis=1)
        obs = np.concatenate([r.observation(), extra], axis=1).astype(np.float32)
        return {a: obs[i] for i, a in enumerate(self.possible_agents)}

    def _infos(self) -> dict[str, dict[str, Any]]:
        r = self._runner
        stage = STAGE_NAMES[r.current[0]] if not r.done else "done"
        mask = r.action_mask()
        return {a: {"stage": stage, "quarter_hour": r.quarter_hour, "action_mask": mask,
                    "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending[:, i].tolist(), strict=True))}
                for i, a in enumerate(self.possible_agents)}
