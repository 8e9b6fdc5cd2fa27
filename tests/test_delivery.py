"""Delivery under activation and auxiliary load: who pays for what physics forces, and nothing more.

Hand-computed quarter-hours first, then property tests over random and adversarial actions that compare
each step with an independent statement of the rule: the battery runs schedule plus activation where its
SoC window, rating and connection allow; otherwise the schedule gives way (back to what the battery does
with no obligation), and only what that cannot cover is undelivered reserve.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bessgym.assets import BatterySpec, Fleet, SiteSpec
from bessgym.data import delivery_day_index, synthetic
from bessgym.data.calendar import DT_H
from bessgym.envs import MarketArrays, MarketConfig, PerfectForecast, Simulator, SingleBESSEnv
from bessgym.envs.portfolio_core import PortfolioSimulator
from bessgym.envs.site import SiteSimulator
from bessgym.errors import MarketDataError
from bessgym.market import Stage
from bessgym.market.settlement import CASH_FLOWS

DAY = "2024-06-05"
RESERVES = frozenset({"afrr_capacity", "afrr_energy", "day_ahead", "intraday", "imbalance"})


def market(days: int = 2, **columns) -> pd.DataFrame:
    idx = delivery_day_index(DAY)
    for k in range(1, days):
        idx = idx.append(delivery_day_index(pd.Timestamp(DAY) + pd.Timedelta(days=k)))
    values = {"da_price": 50.0, "id1_price": 80.0, "afrr_cap_pos_price": 10.0, "afrr_cap_neg_price": 8.0,
              "afrr_energy_pos_price": 200.0, "afrr_energy_neg_price": -30.0, "afrr_activation_pos": 0.0,
              "afrr_activation_neg": 1.0, "imbalance_price": 120.0, "pv_per_mwp": 0.0} | columns
    return pd.DataFrame({k: np.broadcast_to(np.asarray(v, float), len(idx)) for k, v in values.items()}, index=idx)


def simulator(battery: BatterySpec, config: MarketConfig = MarketConfig(products=RESERVES), **columns) -> Simulator:
    s = Simulator(MarketArrays.from_frame(market(**columns)), Fleet.of([battery]), config, PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    return s


def flows(cash: np.ndarray) -> dict[str, float]:
    return dict(zip(CASH_FLOWS, cash[: len(CASH_FLOWS), 0].tolist(), strict=True))  # a site's PV flows follow


def book(s: Simulator, *, schedule_mw: float = 0.0, pos_mw: float = 0.0, neg_mw: float = 0.0) -> None:
    """Commitments set by hand for the whole day (as if bid and cleared)."""
    s.day.positions[0, 0, :] = schedule_mw
    s.day.committed_mw[0, :] = schedule_mw
    s.day.afrr_pos_mw[0, :], s.day.afrr_neg_mw[0, :] = pos_mw, neg_mw
    s._derive()


# ---------------------------------------------------------------------------------- hand cases


def test_a_sale_offsets_a_neg_activation_at_full_soc():
    # 18 of 18 MWh, sold 10 MW, 10 MW aFRR NEG called for the whole quarter-hour: the net is 0 MW, feasible
    s = simulator(BatterySpec(soc_initial=0.9))
    book(s, schedule_mw=10.0, neg_mw=10.0)
    c, r = s.deliver(0, np.zeros((1, 9)))
    f = flows(c)
    assert r["power_mw"][0] == 0.0
    assert r["soc_mwh"][0] == pytest.approx(18.0)
    assert r["undelivered_mwh"][0] == 0.0 and f["penalty"] == 0.0
    assert r["deviation_mwh"][0] == 0.0 and f["imbalance"] == 0.0
    assert r["afrr_neg_mwh"][0] == pytest.approx(2.5)
    assert f["afrr_energy_neg"] == pytest.approx(2.5 * 30)  # a NEG price of -30 pays the provider
    assert f["day_ahead"] == pytest.approx(10 * 50 * 0.25)


def test_a_partial_offset_books_only_the_rest_as_undelivered():
    # sold 4 MW, 10 MW NEG called at full SoC: 4 MW of the call is served by not discharging, 6 MW cannot be
    # (no intraday market to restore headroom with)
    s = simulator(BatterySpec(soc_initial=0.9), MarketConfig(products=RESERVES - {"intraday"}))
    book(s, schedule_mw=4.0, neg_mw=10.0)
    c, r = s.deliver(0, np.zeros((1, 9)))
    assert r["power_mw"][0] == 0.0
    assert r["undelivered_mwh"][0] == pytest.approx(6 * 0.25)
    assert flows(c)["penalty"] == pytest.approx(-1.5 * 1000)
    assert r["afrr_neg_mwh"][0] == pytest.approx(4 * 0.25)  # only what was delivered is settled
    assert r["deviation_mwh"][0] == 0.0  # the sale itself was delivered (no discharge, no charge)


def test_the_schedule_gives_way_to_a_pos_call_before_the_reserve_is_short():
    # 1.5 MWh above the floor (2 MWh): sold 6 MW, 6 MW POS called; the battery can discharge
    # 1.5 x 0.95 / 0.25 = 5.7 MW: the call is served in full, the sale falls short by 0.3 MW
    s = simulator(BatterySpec(soc_initial=3.5 / 20), MarketConfig(products=RESERVES - {"intraday"}),
                  afrr_activation_pos=1.0, afrr_activation_neg=0.0)
    book(s, schedule_mw=6.0, pos_mw=6.0)
    c, r = s.deliver(0, np.array([[0.0, -1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0]]))
    can = 1.5 * 0.95 / 0.25
    assert r["power_mw"][0] == pytest.approx(can)
    assert r["undelivered_mwh"][0] == pytest.approx((6.0 - can) * 0.25)  # the schedule fell to 0 first
    assert r["deviation_mwh"][0] == pytest.approx(-6.0 * 0.25)
    assert flows(c)["imbalance"] == pytest.approx(-6.0 * 0.25 * 120)
    assert r["soc_mwh"][0] == pytest.approx(2.0)


def test_a_backed_energy_only_offer_is_what_the_soc_delivers_over_the_quarter_hour():
    # 1.5 MWh above the floor (2 MWh), no reserve held, the whole POS offer called at 200 EUR/MWh; a full
    # energy-only offer of free power (10 MW) calls more than the battery can give (1.5 x 0.95 / 0.25 = 5.7 MW)
    products = RESERVES - {"intraday"}
    full = np.array([[0.0, 1.0, -1.0, 1.0, 0.0, -1.0, 1.0, 1.0, -1.0]])  # POS energy-only: all, priced to clear
    can = 1.5 * 0.95 / 0.25
    free = simulator(BatterySpec(soc_initial=3.5 / 20), MarketConfig(products=products),
                     afrr_activation_pos=1.0, afrr_activation_neg=0.0)
    c, r = free.deliver(0, full)
    assert r["undelivered_mwh"][0] == pytest.approx((10.0 - can) * 0.25)
    assert flows(c)["penalty"] == pytest.approx(-(10.0 - can) * 0.25 * 1000)
    backed = simulator(BatterySpec(soc_initial=3.5 / 20), MarketConfig(products=products, energy_only_backed=True),
                       afrr_activation_pos=1.0, afrr_activation_neg=0.0)
    c, r = backed.deliver(0, full)
    assert r["power_mw"][0] == pytest.approx(can) and r["undelivered_mwh"][0] == 0.0 and flows(c)["penalty"] == 0.0
    assert flows(c)["afrr_energy_pos"] == pytest.approx(can * 0.25 * 200)
    assert r["soc_mwh"][0] == pytest.approx(2.0)
    # half the volume share: half of what the SoC backs
    half = simulator(BatterySpec(soc_initial=3.5 / 20), MarketConfig(products=products, energy_only_backed=True),
                     afrr_activation_pos=1.0, afrr_activation_neg=0.0)
    c, r = half.deliver(0, np.where(np.arange(9) == 3, 0.5, full))
    assert r["power_mw"][0] == pytest.approx(can / 2)
    # 2 MW of aFRR POS held (1 h at 95 %: 2 / 0.95 MWh kept above the floor; its own offer priced out) at 6 MWh:
    # the energy-only offer is what the SoC above that band gives, (6 - 2 - 2 / 0.95) x 0.95 / 0.25 = 7.2 MW of
    # the 8 MW the held capacity leaves free
    held = simulator(BatterySpec(soc_initial=0.3), MarketConfig(products=products, energy_only_backed=True),
                     afrr_activation_pos=1.0, afrr_activation_neg=0.0)
    book(held, pos_mw=2.0)
    c, r = held.deliver(0, full)
    assert r["afrr_pos_mwh"][0] == pytest.approx((6 - 2 - 2 / 0.95) * 0.95)
    assert r["soc_mwh"][0] == pytest.approx(2 + 2 / 0.95)
    # at the ceiling nothing can be charged: a NEG energy-only offer is none
    top = simulator(BatterySpec(soc_initial=0.9), MarketConfig(products=products, energy_only_backed=True),
                    afrr_activation_pos=0.0, afrr_activation_neg=1.0)
    c, r = top.deliver(0, np.array([[0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 1.0, 1.0, -1.0]]))
    assert r["afrr_neg_mwh"][0] == 0.0 and flows(c)["penalty"] == 0.0


def test_nearest_capacity_volumes_offer_a_whole_mw_from_a_leaning_action():
    """1 MW / 2 MWh, aFRR POS capacity at 10 EUR/MW/h (cleared: the marginal price equals the forecast): an
    action of 0.7 for every block holds nothing rounded down (0.7 MW is below the 1 MW minimum bid) and 1 MW with
    ``capacity_volumes_nearest``; 0.3 holds nothing either way."""
    battery = BatterySpec(power_mw=1.0, energy_mwh=2.0, soc_initial=0.5)
    for nearest, share, held in ((False, 0.7, 0.0), (True, 0.7, 1.0), (True, 0.3, 0.0)):
        s = simulator(battery, MarketConfig(products=RESERVES, capacity_volumes_nearest=nearest),
                      afrr_cap_pos_marginal=10.0, afrr_cap_neg_marginal=8.0)
        a = np.zeros((1, 9, 6))
        a[0, 1] = share
        s.apply_capacity(a.reshape(1, -1))
        np.testing.assert_array_equal(s.day.afrr_pos_mw, held)
        assert (s.day.afrr_neg_mw == 0).all() and (s.day.fcr_mw == 0).all()


def test_auxiliary_load_at_the_floor_is_bought_not_penalised():
    # 1 MW / 4 MWh, 0.05 MW aux, empty, no reserve product: the floor needs 0.05 / 0.95 = 0.0526 MW of charge
    battery = BatterySpec(power_mw=1, energy_mwh=4, soc_min=0.0, soc_max=1.0, soc_initial=0.0, aux_power_mw=0.05)
    s = simulator(battery, MarketConfig(products=frozenset({"intraday"})))
    c, r = s.deliver(0, np.zeros((1, 9)))
    assert flows(c)["penalty"] == 0.0 and r["undelivered_mwh"][0] == 0.0
    assert r["trade_mw"][0] == pytest.approx(-0.1)  # the forced buy rounds outwards on the 0.1 MW grid
    assert r["power_mw"][0] == pytest.approx(-0.1)
    assert r["soc_mwh"][0] == pytest.approx((0.1 * 0.95 - 0.05) * 0.25)
    continuous = simulator(battery, MarketConfig(products=frozenset({"intraday"}), wholesale_increments=False))
    c, r = continuous.deliver(0, np.zeros((1, 9)))
    assert r["trade_mw"][0] == pytest.approx(-0.05 / 0.95)  # what is needed, once (not twice)
    assert r["power_mw"][0] == pytest.approx(-0.05 / 0.95)
    assert r["soc_mwh"][0] == pytest.approx(0.0, abs=1e-12)
    assert flows(c)["penalty"] == 0.0 and r["deviation_mwh"][0] == pytest.approx(0.0, abs=1e-12)


def test_green_only_site_at_night_draws_auxiliaries_from_the_grid_and_never_charges():
    battery = BatterySpec(power_mw=1, energy_mwh=2, soc_initial=0.1, aux_power_mw=0.05)
    site = SiteSpec(grid_limit_mw=1.0, pv_mwp=1.0, battery=battery, green_only=True)
    table = market()
    config = MarketConfig(products=frozenset({"intraday", "imbalance"}))
    s = SiteSimulator(MarketArrays.from_frame(table), [site], config, PerfectForecast(),
                      pv_per_mwp=table["pv_per_mwp"].to_numpy())
    s.start_day(0, np.random.default_rng(0))
    c, r = s.deliver(0, np.zeros((1, 10)))
    assert r["power_mw"][0] == 0.0 and r["grid_export_mw"][0] == 0.0  # no PV, no import to charge
    assert r["aux_grid_mwh"][0] == pytest.approx(0.05 * 0.25)
    assert r["soc_mwh"][0] == pytest.approx(0.2)  # held at the floor
    assert r["undelivered_mwh"][0] == 0.0 and flows(c)["penalty"] == 0.0
    assert flows(c)["imbalance"] == pytest.approx(-0.05 * 0.25 * 120)  # unscheduled consumption at reBAP
    # the day's band stays inside the window although no charge can keep ahead of the aux all night
    assert (s.day.lo <= battery.soc_max * 2 + 1e-12).all() and (s.day.hi <= battery.soc_max * 2 + 1e-12).all()


def test_a_failed_asset_neither_charges_nor_discharges():
    battery = BatterySpec(power_mw=1, energy_mwh=2, soc_initial=0.1, aux_power_mw=0.05)
    table = market()
    s = PortfolioSimulator(MarketArrays.from_frame(table), [SiteSpec(pv_mwp=0.0, battery=battery)] * 2,
                           MarketConfig(products=frozenset({"intraday"})), PerfectForecast(),
                           pv_per_mwp=table["pv_per_mwp"].to_numpy())
    s.start_day(0, np.random.default_rng(0))
    s.fail([0])
    s.outages.p_repair[:] = 0.0
    _, r = s.deliver(0, np.zeros((2, 10)))
    assert r["power_mw"][0] == 0.0 and r["soc_mwh"][0] == pytest.approx(0.2)
    assert r["aux_grid_mwh"][0] == pytest.approx(0.05 * 0.25)
    assert r["power_mw"][1] < 0  # the working asset charges to carry its aux


def test_the_default_env_reproducer_pays_no_penalty():
    env = gym.make("bessgym/SingleBESSIntraday-v1", battery=BatterySpec(soc_initial=0.9), start_day="2024-03-05")
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.array([1, 1, 1, 0, 1, 0, 1, 0, 0], np.float32))
    phys = info["physics"]
    assert phys["schedule_mw"] == 10.0 and phys["afrr_neg_mwh"] > 0
    assert info["cash_flow_eur"]["penalty"] == 0.0 and phys["undelivered_mwh"] == 0.0
    assert phys["soc_mwh"] <= 18.0 + 1e-9 and phys["power_mw"] == pytest.approx(10.0 - phys["afrr_neg_mwh"] / 0.25)


# ------------------------------------------------------------------------------ property tests


def physical_range(soc, b: BatterySpec, lo_site=-np.inf, hi_site=np.inf):
    """The battery's net power range [MW] written out independently of the kernels."""
    smin, smax = b.soc_min * b.energy_mwh, b.soc_max * b.energy_mwh
    down = soc - b.aux_power_mw * DT_H - smin  # energy that may leave the cells
    hi = down * b.eta_discharge / DT_H if down >= 0 else down / b.eta_charge / DT_H
    up = smax - soc + b.aux_power_mw * DT_H
    lo = -up / b.eta_charge / DT_H
    hard_lo, hard_hi = max(-b.power_mw, lo_site), min(b.power_mw, hi_site)
    lo, hi = max(lo, hard_lo), min(hi, hard_hi)
    if lo > hi:  # the floor needs a charge the connection forbids: charge what it allows
        lo = hi = hard_lo
    return lo, hi


def shortfall_mw(reserve, schedule, lo, hi):
    """The least undelivered reserve [MW] when the schedule may fall back to idle but not beyond."""
    idle = min(max(0.0, lo), hi)
    if reserve > 0:
        return max(reserve + min(schedule, idle) - hi, 0.0)
    return max(lo - (reserve + max(schedule, idle)), 0.0)


action_rows = st.lists(st.tuples(st.sampled_from([-1.0, 1.0, 0.0, 0.37, -0.61]), st.sampled_from([0.0, 1.0, 0.5]),
                                 st.sampled_from([0.0, 1.0, 0.5])), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soc0=st.floats(0.1, 0.9), aux=st.sampled_from([0.0, 0.05, 0.3]), pos=st.floats(0, 1), neg=st.floats(0, 1),
       da=st.floats(-1, 1), seed=st.integers(0, 1000), actions=action_rows, increments=st.booleans())
# a 1e-9 MW day-ahead position (below the env's tolerances) beside full trades: 1.35e-8 MWh over the day's budget
@example(soc0=0.5, aux=0.0, pos=0.0, neg=0.0, da=1e-9, seed=0, actions=[(-1.0, 0.0, 0.0), (1.0, 0.0, 0.0)],
         increments=True)
def test_no_penalty_beyond_what_physics_forces(soc0, aux, pos, neg, da, seed, actions, increments):
    rng = np.random.default_rng(seed)
    n = 96 * 2
    share_pos, share_neg = rng.choice([0.0, 0.5, 1.0], n), rng.choice([0.0, 1.0], n)
    battery = BatterySpec(power_mw=2.0, energy_mwh=4.0, soc_initial=soc0, aux_power_mw=aux)
    s = simulator(battery, MarketConfig(products=RESERVES, wholesale_increments=increments),
                  afrr_activation_pos=share_pos, afrr_activation_neg=share_neg)
    a = np.zeros((1, 9, 6))
    a[0, 1], a[0, 2], a[0, 3], a[0, 4] = pos, neg, -1.0, -1.0
    s.apply_capacity(a.reshape(1, -1))
    s.apply_auction(Stage.DAY_AHEAD, np.full((1, 100), da) * np.sign(np.sin(np.arange(100) / 7.0)))
    forced_discharge = False
    d = s.day
    for q in range(d.n_qh):
        trade, extra_pos, extra_neg = actions[q % len(actions)]
        # energy offers priced to be called (POS at DA - 250, NEG at DA + 250), free power offered as given
        act = np.array([[trade, -1.0, 1.0, extra_pos, extra_neg, -1.0, 1.0, 1.0, -1.0]])
        t_lo, t_hi, p_lo = s._trade_range(q)
        forced_discharge |= bool(p_lo[0] > 0 or t_lo[0] > t_hi[0])
        soc = float(s.soc_mwh[0])
        lo, hi = physical_range(soc, battery)
        c, r = s.deliver(q, act)
        schedule = r["schedule_mw"][0]
        free_pos = max(d.up_cap[0, q] - max(schedule, 0.0), 0.0)
        free_neg = max(d.down_cap[0, q] - max(-schedule, 0.0), 0.0)
        pos, neg = d.afrr_pos_mw[0, d.block[q]], d.afrr_neg_mw[0, d.block[q]]
        reserve = ((pos + extra_pos * free_pos) * share_pos[q] - (neg + extra_neg * free_neg) * share_neg[q])
        undelivered = r["undelivered_mwh"][0] / DT_H
        # the penalty is exactly the shortfall physics forces, and the battery stays in its window
        assert undelivered == pytest.approx(shortfall_mw(reserve, schedule, lo, hi), abs=1e-7)
        assert flows(c)["penalty"] == pytest.approx(-undelivered * DT_H * 1000, abs=1e-6)
        if lo - 1e-9 <= schedule + reserve <= hi + 1e-9:
            assert undelivered == pytest.approx(0.0, abs=1e-12)
            assert r["power_mw"][0] == pytest.approx(schedule + reserve, abs=1e-9)
        if reserve == 0:
            assert flows(c)["penalty"] == 0
        assert lo - 1e-9 <= r["power_mw"][0] <= hi + 1e-9
        assert battery.soc_min * 4 - 1e-9 <= r["soc_mwh"][0] <= battery.soc_max * 4 + 1e-9
        assert (d.lo >= battery.soc_min * 4 - 1e-9).all() and (d.hi <= battery.soc_max * 4 + 1e-9).all()
        assert (d.lo <= d.hi).all()
    if not forced_discharge:
        assert d.discharged_mwh[0] <= s.fleet.max_daily_discharge_mwh[0] + 1e-7  # 0.1 Wh


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(soc0=st.floats(0.1, 0.9), aux=st.sampled_from([0.0, 0.05, 0.3]), seed=st.integers(0, 1000),
       actions=st.lists(st.lists(st.floats(-1, 1), min_size=9, max_size=9), min_size=1, max_size=12))
def test_backed_energy_only_offers_are_never_undelivered(soc0, aux, seed, actions):
    """The learners' parametrisation: whatever the delivery actions and the calls, an energy-only offer of a
    battery holding no reserve is never short (it had cost SAC 83 kEUR/MW/year on capacity-2h)."""
    rng = np.random.default_rng(seed)
    battery = BatterySpec(power_mw=2.0, energy_mwh=4.0, soc_initial=soc0, aux_power_mw=aux)
    s = simulator(battery, MarketConfig(products=RESERVES, energy_only_backed=True),
                  afrr_activation_pos=rng.choice([0.0, 0.5, 1.0], 192), afrr_activation_neg=rng.choice([0.0, 1.0], 192),
                  afrr_energy_neg_price=rng.choice([-30.0, 300.0], 192))
    for q in range(s.day.n_qh):
        c, r = s.deliver(q, np.array([actions[q % len(actions)]]))
        assert r["undelivered_mwh"][0] == 0.0 and flows(c)["penalty"] == 0.0


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), green=st.booleans(), aux=st.sampled_from([0.0, 0.2]),
       extreme=st.booleans())
def test_green_only_sites_never_import_and_failed_assets_stay_idle(seed, green, aux, extreme):
    rng = np.random.default_rng(seed)
    table = market(days=2, pv_per_mwp=np.clip(np.sin(np.linspace(0, 2 * np.pi, 192)), 0, None),
                   afrr_activation_pos=rng.choice([0.0, 1.0], 192), afrr_activation_neg=rng.choice([0.0, 1.0], 192),
                   afrr_energy_pos_price=500.0, afrr_energy_neg_price=-50.0)
    battery = BatterySpec(power_mw=5.0, energy_mwh=10.0, soc_initial=0.1, aux_power_mw=aux)
    sites = [SiteSpec(grid_limit_mw=6.0, pv_mwp=6.0, battery=battery, green_only=green)] * 3
    s = PortfolioSimulator(MarketArrays.from_frame(table), sites, MarketConfig(products=RESERVES), PerfectForecast(),
                           pv_per_mwp=table["pv_per_mwp"].to_numpy())
    s.start_day(0, rng)
    s.outages.p_fail[:], s.outages.p_repair[:] = 0.05, 0.1
    cap = np.zeros((3, 9, 6))
    cap[:, 1:3] = rng.random((3, 2, 6))
    s.apply_capacity(cap.reshape(3, -1))
    for q in range(s.day.n_qh):
        act = rng.choice([-1.0, 1.0], (3, 10)) if extreme else rng.uniform(-1, 1, (3, 10))
        _, r = s.deliver(q, act)
        down = ~s.available
        assert (r["power_mw"][down] == 0).all()
        assert (r["soc_mwh"] >= battery.soc_min * 10 - 1e-9).all()
        assert (r["grid_export_mw"] >= -6.0 - 1e-9).all() and (r["grid_export_mw"] <= 6.0 + 1e-9).all()
        if green:  # the battery charges from PV only
            assert (r["grid_export_mw"] >= -1e-9).all()
            assert (-r["power_mw"] <= r["pv_available_mw"] + 1e-9).all()


def test_a_pay_as_bid_product_without_its_marginal_price_is_refused_by_name():
    """Acceptance in a pay-as-bid auction is decided by the marginal price; a table with only the average
    must not stand in for it silently."""
    market = synthetic.generate("2024-06-20", "2024-06-22", seed=0).drop(columns=["afrr_cap_neg_marginal"])
    config = MarketConfig(products=frozenset({"afrr_capacity", "day_ahead"}))
    with pytest.raises(MarketDataError, match=r"afrr_cap_neg_marginal.*MARGINAL_CAPACITY_PRICE"):
        SingleBESSEnv(market, market_config=config)
    SingleBESSEnv(market, market_config=MarketConfig(products=frozenset({"fcr", "day_ahead"})))  # not offered
