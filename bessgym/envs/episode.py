"""Walks a Simulator through the stages of consecutive delivery days, hands each stage to the agent or a
delegate, and accumulates cash flows between agent decisions. Shared by the single and the vector env."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from bessgym.assets.battery import BatterySpec, Fleet
from bessgym.assets.degradation import CycleAgeing, soh_loss
from bessgym.data.arrays import MarketArrays
from bessgym.envs.core import Simulator
from bessgym.envs.delegates import Delegate, NoOp, SpreadTrader
from bessgym.envs.forecast import Forecaster, make_forecaster
from bessgym.envs.observation import ObservationBuilder
from bessgym.envs.options import EnvOptions
from bessgym.envs.view import view_for
from bessgym.market.products import IDA3_FIRST_HOUR, Stage
from bessgym.market.reserves import RESERVES

STAGE_BY_NAME = {s.name.lower(): s for s in Stage}


def parse_stages(names: tuple[str, ...] | list[str] | None) -> frozenset[Stage]:
    """Stage names ('capacity', 'day_ahead', 'ida1'..'ida3', 'intraday_auctions', 'delivery') -> stages."""
    if names is None:
        return frozenset(Stage)
    out: set[Stage] = set()
    for name in names:
        if name == "intraday_auctions":
            out |= {Stage.IDA1, Stage.IDA2, Stage.IDA3}
        elif name in STAGE_BY_NAME:
            out.add(STAGE_BY_NAME[name])
        else:
            raise ValueError(f"unknown stage {name!r}; choose from {sorted(STAGE_BY_NAME)} or 'intraday_auctions'")
    if not out:
        raise ValueError("agent_stages is empty: the agent must decide at least one stage")
    return frozenset(out)


_DEFAULT: dict[str, MarketArrays] = {}


def synthetic_default_arrays() -> MarketArrays:
    """The synthetic 2024 market (seed 0), generated once per process."""
    if "arrays" not in _DEFAULT:
        from bessgym.data import synthetic

        _DEFAULT["arrays"] = MarketArrays.from_frame(synthetic.default_year(), source="synthetic 2024")
    return _DEFAULT["arrays"]


def load_market(market: pd.DataFrame | str | os.PathLike[str] | MarketArrays | None) -> MarketArrays:
    """A contract table, a path to one, arrays made from one, or None for the synthetic 2024 market."""
    if market is None:
        return synthetic_default_arrays()
    if isinstance(market, MarketArrays):
        return market
    if isinstance(market, str | os.PathLike):
        from bessgym.data import read_table

        return MarketArrays.from_frame(read_table(market), source=str(market))
    if isinstance(market, pd.DataFrame):
        return MarketArrays.from_frame(market)
    raise TypeError(f"market must be a DataFrame, a file path or None, got {type(market).__name__}")


def day_position(arrays: MarketArrays, day: dt.date | str, episode_days: int) -> int:
    """Position of delivery day ``day`` in the market, checked to leave ``episode_days`` days of data."""
    target = pd.Timestamp(day).date()
    if target not in arrays.dates:
        raise ValueError(f"start_day {target} is not a complete delivery day of the market "
                         f"({arrays.dates[0]} .. {arrays.dates[-1]})")
    pos = arrays.dates.index(target)
    if pos + episode_days > len(arrays.dates):
        raise ValueError(f"start_day {target} leaves fewer than episode_days={episode_days} days of data")
    return pos


def make_runner(market: pd.DataFrame | str | MarketArrays | None, batteries: Sequence[BatterySpec],
                options: EnvOptions, *, user: str,
                simulator: Callable[[MarketArrays, Forecaster], Simulator] | None = None) -> Runner:
    """Validate an env's market and options and build its simulator and runner (shared by the envs).
    ``simulator`` builds another core on the market arrays and forecaster (e.g. a co-located site's)."""
    arrays = load_market(market)
    arrays.require(options.market_config.required_columns(), user=user)
    if not 1 <= options.episode_days <= len(arrays.dates):
        raise ValueError(f"episode_days must be in [1, {len(arrays.dates)}] for this market, "
                         f"got {options.episode_days}")
    forecaster = make_forecaster(options.forecast, options.forecast_sigma)
    if simulator is None:
        sim = Simulator(arrays, Fleet.of(batteries), options.market_config, forecaster)
    else:
        sim = simulator(arrays, forecaster)
    delegate_map: dict[Stage, Delegate] = {Stage.DAY_AHEAD: SpreadTrader()}
    for name, delegate in (options.delegates or {}).items():
        if name not in STAGE_BY_NAME:
            raise ValueError(f"delegates: unknown stage {name!r}; choose from {sorted(STAGE_BY_NAME)}")
        delegate_map[STAGE_BY_NAME[name]] = delegate
    start = options.start_day
    fixed_start = None if start is None else day_position(arrays, start, options.episode_days)
    return Runner(sim, parse_stages(options.agent_stages), delegate_map, options.horizon_qh,
                  episode_days=options.episode_days, fixed_start=fixed_start, track_soh=options.track_soh,
                  ageing=options.ageing, features=options.observation_features)


class Runner:
    """Episode state of N assets: position in the timeline, pending cash, SoC trace for ageing."""

    def __init__(self, sim: Simulator, agent_stages: frozenset[Stage], delegates: Mapping[Stage, Delegate],
                 horizon_qh: int, *, episode_days: int, fixed_start: int | None, track_soh: bool,
                 ageing: CycleAgeing = CycleAgeing(), features: tuple[str, ...] = ()) -> None:
        self.sim, self.agent_stages = sim, agent_stages
        self.view = view_for(sim, self)  # what delegates see
        self.episode_days, self.fixed_start = episode_days, fixed_start
        self.delegates = {s: delegates.get(s, NoOp()) for s in Stage}
        self.width = max(sim.action_width[s] for s in agent_stages)
        self._masks: dict[tuple[Stage, int], np.ndarray] = {}
        self.track_soh, self.ageing = track_soh, ageing
        self._observe = ObservationBuilder(sim, horizon_qh, features)
        self.done = True
        self._dispatch: list[dict[str, np.ndarray]] | None = None  # delivery steps are recorded into a list

    # --------------------------------------------------------------------------------- lifecycle

    def begin(self, options: dict[str, Any] | None, rng: np.random.Generator) -> None:
        """Start an episode on ``options["start_day"]``, else the fixed start day, else a random whole day."""
        dates = self.sim.market.dates
        if options and "start_day" in options:
            first = day_position(self.sim.market, options["start_day"], self.episode_days)
        elif self.fixed_start is not None:
            first = self.fixed_start
        else:
            first = int(rng.integers(0, len(dates) - self.episode_days + 1))
        self.reset(first, rng)

    def reset(self, first_day: int, rng: np.random.Generator) -> None:
        sim = self.sim
        sim.reset_state()
        self.rng, self.last_day = rng, first_day + self.episode_days - 1
        self.soh = np.ones(sim.n)
        self.done = False
        self._zero_pending()
        self._open_day(first_day)
        self._advance()
        if self.done:
            raise ValueError(f"no stage of {sorted(s.name.lower() for s in self.agent_stages)} occurs in the "
                             f"episode starting {sim.market.dates[first_day]} (e.g. intraday auctions before "
                             "13 Jun 2024, or products switched off in MarketConfig)")

    def _open_day(self, day: int) -> None:
        self.sim.start_day(day, self.rng)
        self.position = 0
        self.capacity_cleared = False
        self.da_cleared = False
        self.soc_trace = [self.sim.soc_mwh.copy()] if self.track_soh else []

    def _zero_pending(self) -> None:
        self.pending = np.zeros((len(self.sim.cash_flows), self.sim.n))
        self.report: dict[str, np.ndarray] = {}
        self.clipped_mw = np.zeros(self.sim.n)

    @property
    def current(self) -> tuple[Stage, int]:
        return self.sim.day.timeline[self.position]

    @property
    def quarter_hour(self) -> int:
        """Quarter-hour of the coming decision (-1 before delivery; the day's last once the episode is done)."""
        return self.current[1] if not self.done else self.sim.day.n_qh - 1

    def next_delivery_q(self) -> int:
        """Quarter-hour of the next delivery step (where an intra-day decision takes effect)."""
        for stage, q in self.sim.day.timeline[self.position:]:
            if stage == Stage.DELIVERY:
                return q
        return self.sim.day.n_qh

    # ------------------------------------------------------------------------------------- steps

    def step(self, action: np.ndarray) -> None:
        """Apply the agent's (N, width) action at the current stage, then run delegates to the next decision."""
        self._zero_pending()
        stage, q = self.current
        self._apply(stage, q, action[:, : self.sim.action_width[stage]])
        self.position += 1
        self._advance()

    def _advance(self) -> None:
        while True:
            if self.position >= len(self.sim.day.timeline):
                self._close_day()
                if self.sim.day_number >= self.last_day:
                    self.done = True
                    return
                self._open_day(self.sim.day_number + 1)
            stage, q = self.current
            if stage in self.agent_stages:
                return
            self._apply(stage, q, self.delegates[stage].act(self.view, stage, q))
            self.position += 1

    def _apply(self, stage: Stage, q: int, action: np.ndarray) -> None:
        sim = self.sim
        if stage == Stage.DELIVERY:
            cash, self.report = sim.deliver(q, action)
            self.pending += cash
            if self._dispatch is not None:
                self._record(q, cash)
            if self.track_soh:
                self.soc_trace.append(sim.soc_mwh.copy())
            return
        if stage == Stage.CAPACITY:
            sim.apply_capacity(action)  # feasible by construction: volumes are shares of what is left
            self.capacity_cleared = True
            return
        q_from = self.next_delivery_q() if stage == Stage.IDA3 else 0
        self.clipped_mw += sim.apply_auction(stage, action, q_from=q_from)["clipped_mw"]
        if stage == Stage.DAY_AHEAD:
            self.da_cleared = True

    def _record(self, q: int, cash: np.ndarray) -> None:
        """One delivery quarter-hour of every asset, for dispatch tables and plots (only when enabled)."""
        d, r = self.sim.day, self.report
        self._dispatch.append({
            "t": d.start + q, "soc_mwh": r["soc_mwh"], "power_mw": r["power_mw"],
            "day_ahead_mw": d.positions[:, 0, q].copy(), "ida_mw": d.positions[:, 1:, q].sum(axis=1),
            "intraday_mw": r["trade_mw"], **{p.held_column: d.held_q[k, :, q].copy() for k, p in enumerate(RESERVES)},
            **{p.energy_column: r[p.energy_column] for p in RESERVES if p.energy_column},
            "afrr_linked_mwh": r["afrr_linked_mwh"], "reserve_mwh": r["reserve_mwh"],
            "cash_eur": cash, **{k: r[k] for k in self.sim.record_keys},
        })

    @contextlib.contextmanager
    def recording(self) -> Iterator[list[dict[str, np.ndarray]]]:
        """Record every delivery quarter-hour while the block runs: yields the list the records go into
        (``t``, SoC, power, positions, trades, reserves, activations, ``cash_eur`` and the core's
        ``record_keys``, each (N,) or (flows, N))."""
        log: list[dict[str, np.ndarray]] = []
        self._dispatch = log
        try:
            yield log
        finally:
            self._dispatch = None

    def _close_day(self) -> None:
        if self.track_soh and len(self.soc_trace) > 2:
            trace = np.stack(self.soc_trace, axis=1) / self.sim.fleet.energy_mwh[:, None]
            self.soh -= np.array([soh_loss(trace[i], self.ageing) for i in range(self.sim.n)])  # once a day

    # ------------------------------------------------------------------------------------ output

    def observation(self, weights: np.ndarray | None = None) -> np.ndarray:
        """The assets' observations (N, size), or with ``weights`` (N,) their weighted average (size,)."""
        stage, q = self.current if not self.done else (Stage.DELIVERY, self.sim.day.n_qh - 1)
        q = self.next_delivery_q() if stage == Stage.IDA3 else q
        cleared = {"capacity_cleared": self.capacity_cleared, "da_cleared": self.da_cleared}
        if weights is not None:
            return self._observe.weighted(weights, stage, q, **cleared)
        return self._observe(stage, q, **cleared)

    def live_observation(self, q: int, soc_mwh: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The delivery observation at quarter-hour ``q`` of the open day with SoC from telemetry (deployment:
        the day's commitments are known, prices are the table's); with ``weights`` their weighted average."""
        self.sim.soc_mwh = np.asarray(soc_mwh, dtype=float)
        cleared = {"capacity_cleared": True, "da_cleared": True}
        if weights is not None:
            return self._observe.weighted(weights, Stage.DELIVERY, q, **cleared)
        return self._observe(Stage.DELIVERY, q, **cleared)

    def action_mask(self) -> np.ndarray:
        """Which entries of the action count in the current stage (the rest is ignored)."""
        if self.done:
            return np.zeros(self.width, dtype=bool)
        stage, _ = self.current
        n = self.sim.action_width[stage]
        if stage in (Stage.DAY_AHEAD, Stage.IDA1, Stage.IDA2, Stage.IDA3):
            n = self.sim.day.n_qh
        if stage == Stage.IDA3:  # the hours the auction covers, from the next delivery on
            mask = np.zeros(self.width, dtype=bool)
            d = self.sim.day
            mask[:n] = self.sim.market.local_hour[d.start:d.start + n] >= IDA3_FIRST_HOUR
            mask[: self.next_delivery_q()] = False
            return mask
        if (stage, n) not in self._masks:  # the same every step of a stage: made once
            self._masks[stage, n] = np.arange(self.width) < n
        return self._masks[stage, n].copy()

    def reward(self) -> np.ndarray:
        return self.pending.sum(axis=0)
