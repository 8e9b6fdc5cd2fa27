"""mFRR: capacity (D-1, 4 h blocks, pay-as-bid, 1 MW minimum) and MARI energy, settled by hand; the synthetic
market's mFRR columns; the LP offering mFRR where it pays, and the env paying the plan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.lp.delegate import DailyLPPolicy, run_policy
from bessgym.assets import BatterySpec, Fleet
from bessgym.data import delivery_day_index, synthetic
from bessgym.envs import MarketArrays, MarketConfig, PerfectForecast, Simulator, SingleBESSEnv
from bessgym.market.settlement import CASH_FLOWS

MFRR = frozenset({"mfrr_capacity", "mfrr_energy", "day_ahead"})


def market(**overrides) -> pd.DataFrame:
    idx = delivery_day_index("2025-11-04")
    values = {"da_price": 50.0, "mfrr_cap_pos_price": 10.0, "mfrr_cap_neg_price": 6.0, "mfrr_cap_pos_marginal": 12.0,
              "mfrr_cap_neg_marginal": 7.0, "mfrr_energy_pos_price": 200.0, "mfrr_energy_neg_price": -20.0,
              "mfrr_activation_pos": 0.5, "mfrr_activation_neg": 0.0} | overrides
    return pd.DataFrame({k: np.broadcast_to(v, len(idx)) for k, v in values.items()}, index=idx)


def test_mfrr_capacity_and_energy_settled_by_hand():
    s = Simulator(MarketArrays.from_frame(market()), Fleet.of([BatterySpec(10.0, 20.0)]), MarketConfig(products=MFRR),
                  PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    a = np.zeros((1, 9, 6))
    a[0, 5, 0], a[0, 7, 0] = 0.4, 0.0  # 4 MW POS in block 00-04 at the forecast 10 <= marginal 12: won
    a[0, 6, 0], a[0, 8, 0] = 0.35, 0.5  # 3.5 MW NEG at 6 x 1.25 = 7.5 > marginal 7: lost
    a[0, 5, 1] = 0.04  # 0.4 MW in block 04-08: below the 1 MW minimum, not offered
    s.apply_capacity(a.reshape(1, -1))
    assert s.day.mfrr_pos_mw[0].tolist() == [4.0, 0, 0, 0, 0, 0] and (s.day.mfrr_neg_mw == 0).all()
    # quarter-hour 0: the capacity's energy offer at DA - 250 clears on MARI's 200: half of 4 MW activated
    c, report = s.deliver(0, np.array([[0, 0, 0, 0, 0, 0, 0, -1.0, 0]]))
    flows = dict(zip(CASH_FLOWS, c[:, 0], strict=True))
    assert flows["mfrr_cap_pos"] == pytest.approx(4 * 10 * 0.25)  # pay-as-bid: the offer price, not the marginal
    assert report["mfrr_pos_mwh"][0] == pytest.approx(4 * 0.5 * 0.25)
    assert flows["mfrr_energy_pos"] == pytest.approx(0.5 * 200)
    assert report["soc_mwh"][0] == pytest.approx(10.0 - 0.5 / 0.95)  # the default battery: 95 % each way
    assert flows["afrr_energy_pos"] == 0.0 and flows["mfrr_cap_neg"] == 0.0
    # quarter-hour 1: offered at DA + 250 = 300 above MARI's 200: not activated, the capacity still paid
    c, report = s.deliver(1, np.array([[0, 0, 0, 0, 0, 0, 0, 1.0, 0]]))
    assert report["mfrr_pos_mwh"][0] == 0.0 and c[CASH_FLOWS.index("mfrr_cap_pos"), 0] == pytest.approx(10.0)


def test_mfrr_held_but_not_deliverable_is_not_paid():
    """4 MW of mFRR POS held for 1 h needs 4 / 0.95 = 4.21 MWh above the floor; at 2.108 MWh half is available."""
    battery = BatterySpec(10.0, 20.0, soc_initial=0.1 + 2.108 / 20)
    s = Simulator(MarketArrays.from_frame(market()), Fleet.of([battery]), MarketConfig(products=MFRR),
                  PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    a = np.zeros((1, 9, 6))
    a[0, 5, 0] = 0.4
    s.apply_capacity(a.reshape(1, -1))
    c, report = s.deliver(0, np.array([[0, 0, 0, 0, 0, 0, 0, 1.0, 0]]))  # not activated
    need = 4 * 1.0 / 0.95
    share = 2.108 / need
    assert report["unavailable_mw"][0] == pytest.approx(4 * (1 - share), rel=1e-6)
    assert c[CASH_FLOWS.index("mfrr_cap_pos"), 0] == pytest.approx(4 * share * 10 * 0.25, rel=1e-6)


def test_synthetic_market_has_mfrr_rarely_activated_and_heavy_tailed():
    m = synthetic.generate("2025-01-01", "2025-07-01", seed=0)
    for d in ("pos", "neg"):
        active = m[f"mfrr_activation_{d}"] > 0
        assert 0.03 < active.mean() < 0.15  # mFRR steps in when aFRR is not enough
        price = m[f"mfrr_cap_{d}_price"]
        assert 2 < price.mean() < 8 and price.max() > 8 * price.median()  # rare blocks far above the rest
        assert (m[f"mfrr_cap_{d}_marginal"] >= price).all()
    spread = m["mfrr_energy_pos_price"] - m["da_price"]
    assert (spread > 0).all() and (m["mfrr_energy_neg_price"] < m["da_price"]).all()
    # activation comes with aFRR's: POS mFRR where the system is short
    assert m.loc[m["mfrr_activation_pos"] > 0, "afrr_activation_pos"].mean() > m["afrr_activation_pos"].mean()


def test_lp_offers_mfrr_where_it_pays_and_the_env_pays_the_plan():
    """A day where mFRR POS capacity pays 12 EUR/MW/h (NEG 0.5, day-ahead flat): the perfect-foresight LP holds
    1 MW of POS all day (1 h of it needs 1.05 MWh above the floor, of the 1.2 MWh stored), and the env pays it
    exactly what it planned."""
    day = market(mfrr_cap_neg_price=0.5, mfrr_cap_neg_marginal=0.5, mfrr_activation_pos=0.0, mfrr_cap_pos_price=12.0)
    battery = BatterySpec(1.0, 2.0, soc_min=0.0, soc_max=1.0, soc_initial=0.6)
    env = SingleBESSEnv(day, battery, MarketConfig(products=MFRR), agent_stages=("capacity", "day_ahead", "delivery"),
                        track_soh=False)
    policy = DailyLPPolicy("day_ahead")
    daily = run_policy(env, policy).iloc[0]
    assert env.day_view.mfrr_pos_mw[0].tolist() == [1.0] * 6
    assert daily["mfrr_cap_pos"] == pytest.approx(1.0 * 12.0 * 24)
    assert daily["total"] == pytest.approx(policy.objectives[0][0], rel=1e-9)


def test_a_failed_assets_mfrr_is_redispatched_in_a_portfolio_and_paid():
    from bessgym.assets import SiteSpec
    from bessgym.envs.portfolio_core import PortfolioSimulator

    arrays = MarketArrays.from_frame(market(mfrr_activation_pos=0.0))
    site = SiteSpec(grid_limit_mw=10.0, pv_mwp=0.0, battery=BatterySpec(10.0, 20.0))
    pool = PortfolioSimulator(arrays, [site, site], MarketConfig(products=MFRR), PerfectForecast(),
                              pv_per_mwp=np.zeros(len(arrays.index)))
    pool.start_day(0, np.random.default_rng(0))
    a = np.zeros((2, 9, 6))
    a[:, 5, 0] = 0.3  # 3 MW mFRR POS each in block 00-04, at the forecast price 10: won
    pool.apply_capacity(a.reshape(2, -1))
    assert pool.day.mfrr_pos_mw[:, 0].tolist() == [3.0, 3.0]
    pool.outages.p_repair[:], pool.outages.p_fail[:] = 0.0, 0.0
    pool.fail([0])
    c, r = pool.deliver(0, np.zeros((2, 10)))
    assert r["unavailable_mw"].sum() == pytest.approx(0.0)  # the working asset holds both (6 MW of its 10)
    assert c[CASH_FLOWS.index("mfrr_cap_pos")].sum() == pytest.approx(2 * 3.0 * 10.0 * 0.25)


def test_every_reserve_product_is_in_the_dispatch_record_the_charts_and_the_deploy_schedule():
    """The record, the dispatch chart's reserve bands and the deploy schedule iterate over the products table
    (bessgym.market.reserves): a day of 1 MW mFRR POS, its energy offered at the lowest price, is in each as held
    MW and activated MWh."""
    from bessgym.market.reserves import RESERVES
    from experiments.deploy import SCHEDULE_COLUMNS
    from experiments.evaluate import dispatch_frame
    from experiments.plots import RESERVES as CHART_RESERVES

    day = market(mfrr_cap_neg_price=0.5, mfrr_cap_neg_marginal=0.5, mfrr_activation_pos=0.02, mfrr_cap_pos_price=12.0)
    battery = BatterySpec(1.0, 2.0, soc_min=0.0, soc_max=1.0, soc_initial=0.6)
    env = SingleBESSEnv(day, battery, MarketConfig(products=MFRR), agent_stages=("capacity", "delivery"),
                        track_soh=False)
    env.reset(seed=0)
    capacity = np.zeros((9, 6), np.float32)
    capacity[5] = 1.0  # mFRR POS: all the room, at the forecast price (under the marginal: accepted)
    delivery = np.zeros(env.action_space.shape, np.float32)
    delivery[8 - 1] = -1.0  # the mFRR capacity's POS energy at DA - band: activated whenever called
    with env.runner.recording() as log:
        env.step(np.resize(capacity.ravel(), env.action_space.shape))
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(delivery)
            done = terminated or truncated
    dispatch = dispatch_frame(log, env.simulator.market, env.simulator.cash_flows)
    for product in RESERVES:
        assert product.held_column in dispatch and product.held_column in SCHEDULE_COLUMNS
        assert product.held_column in [column for column, _, _ in CHART_RESERVES]
        assert product.energy_column is None or product.energy_column in dispatch
    assert (dispatch["mfrr_pos_mw"] == 1.0).all() and (dispatch["fcr_mw"] == 0.0).all()
    assert dispatch["mfrr_pos_mwh"].to_numpy() == pytest.approx(1.0 * 0.02 * 0.25)  # 2 % of 1 MW a quarter-hour
