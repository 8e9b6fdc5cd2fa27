"""Delegate policies: they decide the stages the learning agent does not.

A delegate answers ``act(view, stage, q) -> (N, ACTION_WIDTH[stage])`` normalised actions for all assets, from
a read-only view of the open day (:class:`~bessgym.envs.view.DayView`). LP baselines (``agents/``) implement
the same protocol, so any stage can be handed to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from bessgym.data.calendar import DT_H
from bessgym.envs.layout import ACTION_WIDTH, CAPACITY
from bessgym.envs.view import DayView
from bessgym.market.products import N_BLOCKS, Stage


class Delegate(Protocol):
    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray: ...


@dataclass(frozen=True)
class NoOp:
    """No offers and no trades; awarded aFRR capacity is offered as energy at the DA price (its obligation)."""

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        return np.zeros((view.n, ACTION_WIDTH[stage]))


@dataclass(frozen=True)
class FixedCapacity:
    """Offer fixed shares of power in every block: FCR, then aFRR POS/NEG of what FCR leaves [-]."""

    fcr_share: float = 0.0
    afrr_pos_share: float = 0.0
    afrr_neg_share: float = 0.0

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        a = np.zeros((view.n, len(CAPACITY), N_BLOCKS))
        if stage == Stage.CAPACITY:
            a[:, CAPACITY.fcr_volume] = self.fcr_share
            a[:, CAPACITY.afrr_pos_volume], a[:, CAPACITY.afrr_neg_volume] = self.afrr_pos_share, self.afrr_neg_share
        return a.reshape(view.n, -1) if stage == Stage.CAPACITY else np.zeros((view.n, ACTION_WIDTH[stage]))


@dataclass(frozen=True)
class SpreadTrader:
    """Rule-based day-ahead arbitrage on the forecast: charge in the cheapest, discharge in the dearest hours.

    The number of quarter-hours at full power is what the daily cycle limit allows; the core then makes the
    schedule feasible for SoC and reserves. Other stages: no action.
    """

    def act(self, view: DayView, stage: Stage, q: int) -> np.ndarray:
        a = np.zeros((view.n, ACTION_WIDTH[stage]))
        if stage != Stage.DAY_AHEAD:
            return a
        f, n_qh = view.fleet, view.n_qh
        forecast = view.forecasts["da_price"][:, :n_qh]
        k = np.ceil(f.max_daily_discharge_mwh / (f.power_mw * DT_H)).astype(int)
        k = np.minimum(k, n_qh // 2)
        order = np.argsort(forecast, axis=1)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(n_qh)[None, :].repeat(view.n, axis=0), axis=1)
        a[:, :n_qh] = np.where(rank < k[:, None], -1.0, np.where(rank >= n_qh - k[:, None], 1.0, 0.0))
        return a
