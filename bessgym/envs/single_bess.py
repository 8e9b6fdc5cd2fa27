"""One battery in the sequential German markets."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import pandas as pd
from numba import njit

from bessgym._checks import finite_float
from bessgym.assets.battery import BatterySpec
from bessgym.assets.degradation import CycleAgeing
from bessgym.envs.core import MarketArrays, MarketConfig, Simulator
from bessgym.envs.delegates import Delegate
from bessgym.envs.episode import Runner, make_runner
from bessgym.envs.forecast import Forecaster
from bessgym.envs.observation import OBS_LIMIT, observation_size
from bessgym.market.products import STAGE_NAMES


class SingleBESSEnv(gym.Env):
    """A battery bidding into FCR, aFRR, day-ahead, intraday auctions and intraday continuous, day by day.

    ## Description

    Each Berlin delivery day is a sequence of decision stages in gate order: ``capacity`` (FCR and aFRR
    capacity for the six 4 h blocks), ``day_ahead`` (a position per quarter-hour), ``ida1`` and ``ida2``
    (intraday auctions, from 13 Jun 2024), then one ``delivery`` step per quarter-hour (92, 96 or 100), with
    ``ida3`` inserted at its gate (10:00, for 12:00-24:00). Stages the agent does not decide go to a delegate
    policy (default: a rule-based day-ahead spread trader; no offers elsewhere). Physics is always enforced:
    any action in the box is mapped onto a feasible decision, and the clipping is reported in ``info``.

    ## Action Space

    ``Box(-1, 1, (W,), float32)`` with W the widest stage the agent decides; ``info["action_mask"]`` says
    which entries count in the coming stage.

    | stage | entries | meaning |
    |---|---|---|
    | capacity | 0-5 | FCR volume per block, share of ``fcr_max_share`` x power (<= 0: no offer) |
    | capacity | 6-11, 12-17 | aFRR POS, NEG volume per block, share of the power FCR leaves (<= 0: none) |
    | capacity | 18-23, 24-29 | aFRR POS, NEG capacity price: forecast x (1 + 0.5 a) [EUR/MW/h], pay-as-bid |
    | day_ahead | 0..n_qh-1 | position per quarter-hour, share of free power: + sell (discharge), - buy |
    | ida1-3 | 0..n_qh-1 | change of position per quarter-hour, as for day_ahead (ida3: 12:00-24:00) |
    | delivery | 0 | intraday continuous trade for this quarter-hour, share of the feasible room |
    | delivery | 1, 2 | aFRR energy POS, NEG offer price: DA price + 250 a [EUR/MWh] |
    | delivery | 3, 4 | extra aFRR energy POS, NEG volume without capacity award, share of free power |

    Volumes are rounded to the product's increment (1 MW reserves, 0.1 MW energy). Day-ahead is hourly before
    1 Oct 2025: the four quarter-hours of an hour are averaged.

    ## Observation Space

    ``Box(-1000, 1000, (35 + 3H,), float32)``, H = ``horizon_qh`` (default 96): stage one-hot, SoC, cycles
    used, time features, current reserves, the next H quarter-hours of committed position, DA price (forecast
    before its gate, realised after) and ID1 forecast, and the day's reserve prices (see
    :mod:`bessgym.envs.observation`).

    ## Rewards

    The cash flow of the step in EUR times ``reward_scale``: capacity payments, aFRR energy, day-ahead,
    intraday auction and continuous revenues, imbalance settlement of every deviation at reBAP, non-delivery
    penalties, and degradation cost. Money flows at delivery, so capacity and auction decisions are paid in
    the delivery steps that follow. ``info["cash_flow_eur"]`` holds the breakdown, which sums to the reward.

    ## Episode End

    The episode is truncated after ``episode_days`` delivery days (running out of data is truncation, never
    termination); there is no terminal state. SoC rolls over from day to day.

    ## Arguments

    - ``market``: contract DataFrame, path, ``MarketArrays`` (shared by envs), or None for the synthetic 2024 market.
    - ``battery``: :class:`~bessgym.assets.BatterySpec` (default 10 MW / 20 MWh, 95 %/95 %, SoC 10-90 %).
    - ``market_config``: :class:`~bessgym.envs.core.MarketConfig` (products, fees, holding times, penalties).
    - ``episode_days`` (1), ``start_day`` (None: random whole day, from ``reset(seed=...)``).
    - ``agent_stages``: names of the stages the agent decides (default all); ``delegates``: stage name ->
      delegate for the others.
    - ``forecast``: ``"perfect"``, ``"noisy"`` (``forecast_sigma`` = 10 %) or a forecaster object.
    - ``horizon_qh`` (96), ``reward_scale`` (1.0), ``track_soh`` (True: rainflow state of health in info).

    ## Registered variants

    - ``bessgym/SingleBESS-v0``: the agent decides every stage.
    - ``bessgym/SingleBESSIntraday-v0``: the agent decides only delivery steps (5 actions); day-ahead goes to
      the spread trader, capacity to no offer.
    - ``bessgym/SingleBESSCapacity-v0``: the agent decides only the capacity stage (one step per day, episodes
      of 7 days).

    ## Version History

    - v0: initial release.
    """

    metadata = {"render_modes": []}

    def __init__(
        self,
        market: pd.DataFrame | str | MarketArrays | None = None,
        battery: BatterySpec = BatterySpec(),
        market_config: MarketConfig = MarketConfig(),
        *,
        episode_days: int = 1,
        start_day: dt.date | str | None = None,
        agent_stages: tuple[str, ...] | None = None,
        delegates: Mapping[str, Delegate] | None = None,
        forecast: str | Forecaster = "perfect",
        forecast_sigma: float = 0.10,
        horizon_qh: int = 96,
        reward_scale: float = 1.0,
        track_soh: bool = True,
        ageing: CycleAgeing = CycleAgeing(),
    ) -> None:
        self._runner = make_runner(market, [battery], market_config, episode_days=episode_days,
                                   start_day=start_day, agent_stages=agent_stages, delegates=delegates,
                                   forecast=forecast, forecast_sigma=forecast_sigma, horizon_qh=horizon_qh,
                                   track_soh=track_soh, ageing=ageing, user=type(self).__name__)
        self.reward_scale = finite_float(type(self).__name__, "reward_scale", reward_scale)
        self.battery, self.market_config = battery, market_config
        self.action_space = gym.spaces.Box(-1.0, 1.0, (self._runner.width,), np.float32)
        size = observation_size(horizon_qh)
        self.observation_space = gym.spaces.Box(-OBS_LIMIT, OBS_LIMIT, (size,), np.float32)

    @property
    def simulator(self) -> Simulator:
        return self._runner.sim

    @property
    def runner(self) -> Runner:
        """The episode runner (stages, pending cash, dispatch recording, live observations)."""
        return self._runner

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
        if self._runner.done:
            raise RuntimeError("step() called after the episode ended; call reset()")
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        _check_action(action, self._runner)
        self._step_runner(action)
        reward = self._reward() * self.reward_scale
        done = self._runner.done
        return self._observation(), reward, False, done, self._info()

    def _step_runner(self, action: np.ndarray) -> None:
        self._runner.step(action[None, :])

    def _reward(self) -> float:
        return float(self._runner.reward()[0])

    def _observation(self) -> np.ndarray:
        return self._runner.observation()[0]

    def _info(self) -> dict[str, Any]:
        r = self._runner
        stage, delivery_date, q = self.decision_point
        info = {
            "stage": stage,
            "action_mask": r.action_mask(),
            "cash_flow_eur": dict(zip(r.sim.cash_flows, r.pending[:, 0].tolist(), strict=True)),
            "soc_mwh": float(r.sim.soc_mwh[0]),
            "delivery_date": delivery_date,
            "quarter_hour": q,
            "clipped_mw": float(r.clipped_mw[0]),
            "soh": float(r.soh[0]),
        }
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
