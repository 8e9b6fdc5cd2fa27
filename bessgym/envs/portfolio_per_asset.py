"""``bessgym/PortfolioPerAsset-v1``: the portfolio env with a decision per asset and each asset's state.

``Portfolio-v1`` repeats one action for every asset and observes power-weighted averages, so a dispatch per
asset cannot be learned. This variant keeps everything else (stages, pooled bids, outages and re-dispatch,
netting, reward) and changes the two spaces.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from bessgym.envs.base import _ACTION_BOUND, _in_box
from bessgym.envs.layout import Layout
from bessgym.envs.observation import OBS_LIMIT
from bessgym.envs.portfolio import PortfolioEnv
from bessgym.market.products import STAGE_NAMES

ASSET_STATE = 4  # per asset: SoC share, in service, discharge and charge power left after reserves / power


class PortfolioPerAssetEnv(PortfolioEnv):
    """:class:`~bessgym.envs.portfolio.PortfolioEnv` with one action row per asset (and its envelope; pay-as-bid
    reserves offered at several prices are several bids, each on the grid).

    ## Action Space

    ``Box(-1, 1, (N x W,), float32)``: asset i's action is entries ``i W .. (i + 1) W - 1``, read as the
    ``Portfolio-v1`` action for that asset alone (shares of its own rooms; the portfolio's totals still go on
    the products' grids). ``info["action_mask"]`` is the stage's mask repeated for every asset.

    ## Observation Space

    ``Box(-1000, 1000, (49 + 3H + 2 + 4N,), float32)``: the ``Portfolio-v1`` observation, then per asset its SoC
    share of the usable window, whether it is in service (0/1), and the discharge and charge power left after
    its reserves in the coming quarter-hour over its power.

    ## Rewards, Episode End, Arguments

    As ``Portfolio-v1``.

    ## Version History

    - v1: mFRR capacity and energy widened the action (capacity rows 5-8, delivery entries 7-8) and the
      observation (mFRR held, mFRR capacity prices); ``gym.make`` of a ``-v0`` id names ``-v1``.
    - v0: initial release.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        r = self._runner
        n, width = r.sim.n, r.width
        self.action_space = gym.spaces.Box(-1.0, 1.0, (n * width,), np.float32)
        size = self.observation_space.shape[0] + ASSET_STATE * n
        self.observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, (size,), np.float32)
        f = r.sim.fleet
        self._usable = f.soc_max_mwh - f.soc_min_mwh

    @property
    def observation_layout(self) -> Layout:
        """``Portfolio-v1``'s entries, then each asset's state (asset-major: SoC share, in service, discharge and
        charge power left after its reserves / power)."""
        core = super().observation_layout
        n = self._runner.sim.n
        return Layout([(e.name, e.size, e.meaning) for e in core.entries]
                      + [("asset_state", ASSET_STATE * n, f"per asset of {n}: SoC share, in service, discharge and "
                          "charge power left after reserves / power")])

    def step(self, action):
        r = self._runner
        if r.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != self.action_space.shape or not _in_box(action, _ACTION_BOUND):
            raise ValueError(f"action must have shape {self.action_space.shape} with finite entries in [-1, 1] "
                             f"(stage {STAGE_NAMES[r.current[0]]})")
        r.step(action.reshape(r.sim.n, r.width))
        reward = float(r.pending.sum())
        return self._observation(), reward * self.reward_scale, False, r.done, self._info()

    def _observation(self) -> np.ndarray:
        r = self._runner
        return np.concatenate([super()._observation(), self._asset_state(min(max(r.quarter_hour, 0),
                                                                             r.sim.day.n_qh - 1))])

    def live_observation(self, q: int, soc_mwh: np.ndarray) -> np.ndarray:
        """The pooled live observation, then each asset's state with its telemetry SoC (deployment)."""
        return np.concatenate([super().live_observation(q, soc_mwh), self._asset_state(q)])

    def _asset_state(self, q: int) -> np.ndarray:
        sim = self._runner.sim
        state = np.empty((sim.n, ASSET_STATE), dtype=np.float32)
        state[:, 0] = (sim.soc_mwh - sim.fleet.soc_min_mwh) / self._usable
        state[:, 1] = sim.available
        state[:, 2] = sim.day.up_cap[:, q] / sim.fleet.power_mw
        state[:, 3] = sim.day.down_cap[:, q] / sim.fleet.power_mw
        return state.ravel()

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        info["action_mask"] = np.tile(info["action_mask"], self._runner.sim.n)
        return info
