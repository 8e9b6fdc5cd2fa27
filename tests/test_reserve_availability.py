"""Reserve capacity is paid for what is available: an asset in outage or one whose SoC cannot hold the
reserve for its held duration loses that share of the capacity payment (pro rata) and pays the configured
unavailability penalty; a portfolio that covers an outage from other assets keeps the payment. Hand-computed
quarter-hours."""

from __future__ import annotations

import numpy as np
import pytest
from test_delivery import RESERVES, flows, market

from bessgym.assets import BatterySpec, Fleet, SiteSpec
from bessgym.envs import MarketArrays, MarketConfig, PerfectForecast, Simulator
from bessgym.envs.portfolio_core import PortfolioSimulator

PRICE = 10.0  # aFRR POS capacity, pay-as-bid [EUR/MW/h]
CONFIG = MarketConfig(products=RESERVES, unavailability_penalty_eur_mw_h=20.0)
QUIET = {"afrr_activation_pos": 0.0, "afrr_activation_neg": 0.0}  # no activation: only availability matters


def hold_pos(s: Simulator, mw: np.ndarray) -> None:
    """aFRR POS held all day at PRICE by each asset (as if won)."""
    s.day.afrr_pos_mw[:, :] = np.asarray(mw, float)[:, None]
    s.day.afrr_pos_price[:, :] = PRICE
    s._derive()


def test_a_battery_that_holds_its_headroom_is_paid_in_full():
    s = Simulator(MarketArrays.from_frame(market(**QUIET)), Fleet.of([BatterySpec(soc_initial=0.5)]), CONFIG,
                  PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    hold_pos(s, [2.0])
    c, r = s.deliver(0, np.zeros((1, 9)))
    assert flows(c)["afrr_cap_pos"] == pytest.approx(2.0 * PRICE * 0.25)  # 5 EUR for the quarter-hour
    assert flows(c)["penalty"] == 0.0 and r["unavailable_mw"][0] == 0.0


def test_soc_short_of_the_held_energy_loses_that_share():
    # 10 MW / 20 MWh, floor 2 MWh; 4 MW POS held 1 h needs 4 / 0.95 = 4.21 MWh above the floor
    battery = BatterySpec(soc_initial=0.1 + 2.105 / 20.0)  # 2.105 MWh above the floor: half the need
    s = Simulator(MarketArrays.from_frame(market(**QUIET)), Fleet.of([battery]), CONFIG, PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    hold_pos(s, [4.0])
    share = 2.105 / (4.0 / battery.eta_discharge)
    c, r = s.deliver(0, np.zeros((1, 9)))
    missing = 4.0 * (1 - share)
    assert r["unavailable_mw"][0] == pytest.approx(missing)
    assert flows(c)["afrr_cap_pos"] == pytest.approx((4.0 - missing) * PRICE * 0.25)
    assert flows(c)["penalty"] == pytest.approx(-missing * 20.0 * 0.25)


def test_an_asset_in_outage_is_not_paid_unless_the_portfolio_covers_it():
    site = SiteSpec(grid_limit_mw=10.0, pv_mwp=0.0, battery=BatterySpec())
    arrays = MarketArrays.from_frame(market(**QUIET))
    alone = PortfolioSimulator(arrays, [site], CONFIG, PerfectForecast(), pv_per_mwp=np.zeros(len(arrays.index)))
    alone.start_day(0, np.random.default_rng(0))
    hold_pos(alone, [3.0])
    alone.outages.p_repair[:] = 0.0
    alone.fail([0])
    c, r = alone.deliver(0, np.zeros((1, 10)))
    assert r["available"][0] == 0.0 and r["unavailable_mw"][0] == pytest.approx(3.0)
    assert flows(c)["afrr_cap_pos"] == pytest.approx(0.0)  # down for the quarter-hour: none of its payment
    assert flows(c)["penalty"] == pytest.approx(-3.0 * 20.0 * 0.25)
    # two assets: the working one takes the failed one's 3 MW (it has room), so the pool delivers and is paid
    pool = PortfolioSimulator(arrays, [site, site], CONFIG, PerfectForecast(), pv_per_mwp=np.zeros(len(arrays.index)))
    pool.start_day(0, np.random.default_rng(0))
    hold_pos(pool, [3.0, 3.0])
    pool.outages.p_repair[:] = 0.0
    pool.outages.p_fail[:] = 0.0
    pool.fail([0])
    c, r = pool.deliver(0, np.zeros((2, 10)))
    assert r["unavailable_mw"].sum() == pytest.approx(0.0)
    assert c[1].sum() == pytest.approx(2 * 3.0 * PRICE * 0.25)  # both payments kept (row 1: aFRR POS)


def test_a_portfolio_moves_the_reserve_a_short_soc_cannot_hold_to_a_sibling_with_energy():
    """Two 10 MW / 20 MWh batteries each hold 3 MW of aFRR POS (1 h: 3.16 MWh above the floor). One sits 1 MWh
    above its floor; the other at 50 %. Alone the first could deliver a third of its reserve; in the portfolio
    the sibling, with 8 MWh and 7 MW to spare, takes the rest, and half of the 6 MW is called from it."""
    low, half = BatterySpec(soc_initial=0.1 + 1.0 / 20.0), BatterySpec(soc_initial=0.5)
    calls = {"afrr_activation_pos": 0.5, "afrr_activation_neg": 0.0, "afrr_energy_pos_price": 200.0}
    arrays = MarketArrays.from_frame(market(**calls))
    alone = Simulator(arrays, Fleet.of([low]), CONFIG, PerfectForecast())
    alone.start_day(0, np.random.default_rng(0))
    hold_pos(alone, [3.0])
    _, r = alone.deliver(0, np.zeros((1, 9)))
    assert r["unavailable_mw"][0] == pytest.approx(3.0 - 1.0 / (1.0 / low.eta_discharge))  # 1 MW deliverable
    sites = [SiteSpec(grid_limit_mw=10.0, pv_mwp=0.0, battery=b) for b in (low, half)]
    pool = PortfolioSimulator(arrays, sites, CONFIG, PerfectForecast(), pv_per_mwp=np.zeros(len(arrays.index)))
    pool.start_day(0, np.random.default_rng(0))
    hold_pos(pool, [3.0, 3.0])
    pool.outages.p_fail[:] = 0.0
    c, r = pool.deliver(0, np.zeros((2, 10)))
    assert r["unavailable_mw"].sum() == pytest.approx(0.0, abs=1e-9) and r["undelivered_mwh"].sum() == 0.0
    # the first keeps what its SoC holds (1 MWh x 0.95 / 1 h = 0.95 MW), the sibling takes the other 2.05 MW
    assert r["afrr_pos_mwh"].tolist() == pytest.approx([0.95 * 0.5 * 0.25, (6.0 - 0.95) * 0.5 * 0.25])
    assert c[1].tolist() == pytest.approx([3.0 * PRICE * 0.25] * 2)  # both keep the payments they won
    assert pool.day.afrr_pos_mw[:, 0].tolist() == [3.0, 3.0]  # the day as bid is unchanged
