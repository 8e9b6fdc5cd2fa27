"""What a policy sees when it decides a stage for the env: a read-only view of the open day.

Delegates (:mod:`bessgym.envs.delegates`) and the LP policies (``agents/``) get a :class:`DayView`, never the
simulator: the day's commitments and rooms, the forecasts, the assets' specs and SoC, and the two questions
they may ask the core (:meth:`DayView.capacity_rooms`, :meth:`DayView.trade_range`). Every array is a
read-only view (writing to one raises), so a policy cannot change the state it plans on; it answers with
normalised actions, made with the core's :class:`~bessgym.envs.codec.ActionCodec` (:attr:`DayView.codec`).
A co-located site's view (:class:`SiteDayView`) adds its PV forecast and contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

import numpy as np

from bessgym.assets.battery import Fleet
from bessgym.data.rules import MarketRules
from bessgym.envs.codec import ActionCodec
from bessgym.envs.core import Simulator, frozen
from bessgym.envs.forecast import forecast_sigma
from bessgym.envs.site import SiteSimulator
from bessgym.market.config import MarketConfig
from bessgym.market.products import Stage


class Clock(Protocol):
    """What a view asks the runner: the quarter-hour the next delivery step is (IDA3 is decided before it)."""

    def next_delivery_q(self) -> int: ...


def view_for(sim: Simulator, runner: Clock | None = None) -> DayView:
    """What policies see of a simulator's day: a site's (and a portfolio's) view adds its PV and contract."""
    return SiteDayView(sim, runner) if isinstance(sim, SiteSimulator) else DayView(sim, runner)


class DayView:
    """The open delivery day of a simulator's N assets, read-only; see the module docstring.

    Arrays are (N, ...) over assets; per quarter-hour ones have the day's ``n_qh`` columns, per block ones six.
    """

    def __init__(self, sim: Simulator, runner: Clock | None = None) -> None:
        self._sim, self._runner = sim, runner  # the runner tells where in the day's timeline the episode is
        f = sim.fleet
        self.fleet = Fleet(**{name: frozen(getattr(f, name)) if name != "specs" else f.specs
                              for name in f.__dataclass_fields__})

    # ------------------------------------------------------------------------- assets and terms

    @property
    def n(self) -> int:
        """Number of assets."""
        return self._sim.n

    @property
    def config(self) -> MarketConfig:
        """The products and their terms (frozen)."""
        return self._sim.config

    @property
    def codec(self) -> ActionCodec:
        """The one mapping between decisions in MW and EUR and normalised actions."""
        return self._sim.codec

    @property
    def trade_step_mw(self) -> float:
        """The grid [MW] each asset's intraday trade at delivery is rounded onto, towards zero (0: none)."""
        return self._sim.pooling.delivery_steps(self.rules)[0]

    @property
    def pooled(self) -> bool:
        """Whether the assets bid as one actor (a portfolio rounds its totals, not each asset's)."""
        return self._sim.pooling.pooled

    @property
    def action_width(self) -> Mapping[Stage, int]:
        """Entries of each stage's action."""
        return self._sim.action_width

    @property
    def in_service(self) -> np.ndarray:
        """Which assets are in service now (N,) bool (a portfolio's outages; otherwise all)."""
        return frozen(getattr(self._sim, "available", np.ones(self._sim.n, dtype=bool)))

    @property
    def soc_mwh(self) -> np.ndarray:
        """State of charge now (N,) [MWh]."""
        return frozen(self._sim.soc_mwh)

    # ------------------------------------------------------------------------------------ the day

    @property
    def day_number(self) -> int:
        """Position of the day in the market table."""
        return self._sim.day_number

    @property
    def serial(self) -> int:
        """Counts the days this simulator opened: a policy that plans once a day keys its plan on it."""
        return self._sim.days_opened

    @property
    def n_qh(self) -> int:
        return self._sim.day.n_qh

    @property
    def next_n_qh(self) -> int:
        """Quarter-hours of the next delivery day in the market table (0 after the last day)."""
        slices = self._sim.market.day_slices
        k = self._sim.day_number + 1
        return slices[k].stop - slices[k].start if k < len(slices) else 0

    @property
    def start(self) -> int:
        """Position of the day's first quarter-hour in the market table."""
        return self._sim.day.start

    @property
    def rules(self) -> MarketRules:
        """The market rules in force on the day (product resolution, minimum bids, FCR energy reserve)."""
        return self._sim.day.rules

    @property
    def local_hour(self) -> np.ndarray:
        """Berlin hour of each quarter-hour (n_qh,)."""
        return frozen(self._sim.market.local_hour[self.start:self.start + self.n_qh])

    @property
    def delivery_q(self) -> int:
        """The next quarter-hour to be delivered: 0 before delivery, ``q`` at the delivery step of ``q`` (-1 when
        the view is not driven by an episode)."""
        return self._runner.next_delivery_q() if self._runner is not None else -1

    @property
    def day_ahead_price(self) -> np.ndarray:
        """The day's cleared day-ahead prices (n_qh,) [EUR/MWh], known once its gate has passed; a ValueError
        before then."""
        r = self._runner
        if r is None or not (r.da_cleared or r.done or r.current[0] > Stage.DAY_AHEAD):
            raise ValueError("the day-ahead prices are not known before the day-ahead gate")
        return frozen(self._sim.market.columns["da_price"][self.start:self.start + self.n_qh])

    @property
    def block(self) -> np.ndarray:
        """Reserve block of each quarter-hour (n_qh,)."""
        return frozen(self._sim.day.block)

    @property
    def forecasts(self) -> Mapping[str, np.ndarray]:
        """Price forecasts by market column (N, up to two days of quarter-hours from the day's start)."""
        return MappingProxyType({name: frozen(values) for name, values in self._sim.day.forecasts.items()})

    @property
    def forecast_sigma(self) -> float:
        """Relative error [-] to expect of the forecasts (0 with perfect foresight; :func:`forecast_sigma`)."""
        return forecast_sigma(self._sim.forecaster)

    def _day(self, name: str) -> np.ndarray:
        return frozen(getattr(self._sim.day, name))

    fcr_mw = property(lambda self: self._day("fcr_mw"), doc="FCR awarded per block (N, 6) [MW].")
    afrr_pos_mw = property(lambda self: self._day("afrr_pos_mw"), doc="aFRR POS awarded per block (N, 6) [MW].")
    afrr_neg_mw = property(lambda self: self._day("afrr_neg_mw"), doc="aFRR NEG awarded per block (N, 6) [MW].")
    mfrr_pos_mw = property(lambda self: self._day("mfrr_pos_mw"), doc="mFRR POS awarded per block (N, 6) [MW].")
    mfrr_neg_mw = property(lambda self: self._day("mfrr_neg_mw"), doc="mFRR NEG awarded per block (N, 6) [MW].")
    positions = property(lambda self: self._day("positions"),
                         doc="Auction positions (N, 4, n_qh): DA, IDA1, IDA2, IDA3 [MW, + = sell].")
    committed_mw = property(lambda self: self._day("committed_mw"), doc="Positions summed (N, n_qh) [MW].")
    up_cap = property(lambda self: self._day("up_cap"),
                      doc="Discharge power left after reserves (N, n_qh) [MW].")
    down_cap = property(lambda self: self._day("down_cap"), doc="Charge power left after reserves (N, n_qh) [MW].")
    lo = property(lambda self: self._day("lo"), doc="Lower end of the SoC band reserves need (N, n_qh) [MWh].")
    hi = property(lambda self: self._day("hi"), doc="Upper end of the SoC band reserves need (N, n_qh) [MWh].")
    discharged_mwh = property(lambda self: self._day("discharged_mwh"),
                              doc="Trading discharge so far today (N,) [MWh], against the cycle budget.")

    # ------------------------------------------------------------------------- what the core answers

    def capacity_rooms(self) -> tuple[np.ndarray, np.ndarray]:
        """Reserve power each asset can offer up and down per block (N, 6) [MW]."""
        return self._sim.capacity_rooms()

    def auction_rooms(self, stage: Stage) -> tuple[np.ndarray, np.ndarray]:
        """Power free to sell and to buy (N, n_qh) [MW] that an auction action's shares are read against (for an
        hourly product the hour's smallest)."""
        return tuple(frozen(x) for x in self._sim.auction_rooms(stage))

    def trade_range(self, q: int) -> tuple[np.ndarray, np.ndarray]:
        """Range [lo, hi] of the intraday trade (N,) [MW, + = sell] at delivery quarter-hour ``q``."""
        return self._sim.trade_range(q)

    def intraday_quote(self, q: int) -> float:
        """The intraday continuous price [EUR/MWh] at which a trade in quarter-hour ``q`` settles, known from its
        delivery step on (a continuous market shows the price it trades at); a ValueError before then."""
        now = self.delivery_q
        if not 0 <= q <= now:
            raise ValueError(f"the intraday price of quarter-hour {q} is not known yet (next delivery: {now})")
        return float(self._sim.col("id1_price")[self._sim.day.start + q])


class SiteDayView(DayView):
    """:class:`DayView` of co-located sites: their specs, PV forecast and contract terms."""

    _sim: SiteSimulator

    @property
    def sites(self) -> tuple:
        return self._sim.sites

    @property
    def contract(self):
        """The PV contract all sites share (:mod:`bessgym.assets.site`)."""
        return self._sim.contract

    @property
    def pv_forecast_mw(self) -> np.ndarray:
        """PV forecast of the day (N, n_qh) [MW]."""
        return frozen(self._sim.pv_forecast[:, :self.n_qh])

    @property
    def pv_committed_mw(self) -> np.ndarray:
        """PV committed to the battery in the capacity stage (N, n_qh) [MW]: it is not fed in by the PV owner."""
        return frozen(self._sim.committed_pv_mw)

    def capacity_rooms(self, pv_commitment_share: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Reserve power each asset can offer up and down per block (N, 6) [MW], with the PV commitment
        ``pv_commitment_share`` (N, 6) when given (what a capacity action with it is read against)."""
        return self._sim.capacity_rooms(pv_commitment_share)

    @property
    def solar_market_value_eur_mwh(self) -> np.ndarray:
        """The month's solar market value in each quarter-hour of the day (n_qh,) [EUR/MWh]."""
        return frozen(self._sim.market_value_eur_mwh[self.start:self.start + self.n_qh])

    @property
    def premium_suspended(self) -> np.ndarray:
        """Where the EEG market premium is suspended (negative-price rule) in the day (n_qh,) bool."""
        return frozen(self._sim.premium_suspended[self.start:self.start + self.n_qh])
