"""One battery in the sequential German markets."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bessgym.assets.battery import BatterySpec
from bessgym.data.arrays import MarketArrays
from bessgym.envs.base import BESSEnv
from bessgym.envs.episode import make_runner
from bessgym.envs.options import EnvOptions
from bessgym.market.config import MarketConfig


class SingleBESSEnv(BESSEnv):
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
    | capacity | 30-35, 36-41 | mFRR POS, NEG volume per block, share of the power FCR and aFRR leave |
    | capacity | 42-47, 48-53 | mFRR POS, NEG capacity price: forecast x (1 + 0.5 a) [EUR/MW/h], pay-as-bid |
    | day_ahead | 0..n_qh-1 | position per quarter-hour, share of free power: + sell (discharge), - buy |
    | ida1-3 | 0..n_qh-1 | change of position per quarter-hour, as for day_ahead (ida3: 12:00-24:00) |
    | delivery | 0 | intraday continuous trade for this quarter-hour, share of the feasible room |
    | delivery | 1, 2 | the aFRR capacity's energy offer price POS, NEG: DA price + 250 a [EUR/MWh] |
    | delivery | 3, 4 | energy-only aFRR POS, NEG volume (no capacity award), share of free power |
    | delivery | 5, 6 | energy-only aFRR POS, NEG offer price: DA price + 250 a [EUR/MWh] |
    | delivery | 7, 8 | the mFRR capacity's energy offer price POS, NEG: DA price + 250 a [EUR/MWh] (MARI) |

    Volumes are rounded to the product's increment (1 MW reserves, 0.1 MW energy). Day-ahead is hourly before
    1 Oct 2025: the four quarter-hours of an hour are averaged.

    ## Observation Space

    ``Box(-1000, 1000, (49 + 3H,), float32)``, H = ``horizon_qh`` (default 96): stage one-hot, SoC, cycles
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
    - ``options``: :class:`~bessgym.envs.options.EnvOptions`, and its fields as keywords, which override it:
      ``episode_days`` (1), ``start_day`` (None: random whole day, from ``reset(seed=...)``), ``agent_stages``
      (default all) and ``delegates`` for the others, ``forecast`` (``"perfect"``, ``"noisy"`` with
      ``forecast_sigma`` = 10 %, or a forecaster object), ``horizon_qh`` (96), ``reward_scale`` (1.0),
      ``track_soh`` (True: rainflow state of health in info).

    ## Registered variants

    - ``bessgym/SingleBESS-v1``: the agent decides every stage.
    - ``bessgym/SingleBESSIntraday-v1``: the agent decides only delivery steps (9 actions); day-ahead goes to
      the spread trader, capacity to no offer.
    - ``bessgym/SingleBESSCapacity-v1``: the agent decides only the capacity stage (one step per day, episodes
      of 7 days).

    ## Version History

    - v1: mFRR capacity and energy widened the action (capacity rows 5-8, delivery entries 7-8) and the
      observation (mFRR held, mFRR capacity prices); ``gym.make`` of a ``-v0`` id names ``-v1``.
    - v0: initial release.
    """

    def __init__(self, market: pd.DataFrame | str | MarketArrays | None = None, battery: BatterySpec = BatterySpec(),
                 market_config: MarketConfig | None = None, *, options: EnvOptions | None = None,
                 **overrides: Any) -> None:
        opts = EnvOptions.of(options, market_config, **overrides)
        super().__init__(make_runner(market, [battery], opts, user=type(self).__name__), opts)
        self.battery = battery
