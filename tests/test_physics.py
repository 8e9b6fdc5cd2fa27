"""Battery physics, clearing and settlement: hand-computed small cases, one per product."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bessgym.assets import BatterySpec, CycleAgeing, Fleet, soc_next, soh_loss
from bessgym.data import delivery_day_index
from bessgym.envs import MarketArrays, MarketConfig, PerfectForecast, Simulator
from bessgym.market import Stage, accepted_buy, accepted_sell, round_volume, settlement_price
from bessgym.market.settlement import CASH_FLOWS

DAY = "2024-06-05"  # a 96-quarter-hour day after the IDA start, hourly day-ahead


def market(**overrides: float) -> pd.DataFrame:
    idx = delivery_day_index(DAY).append(delivery_day_index("2024-06-06"))
    values = {"da_price": 50.0, "ida1_price": 60.0, "ida2_price": 55.0, "ida3_price": 70.0, "id1_price": 80.0,
              "fcr_price": 20.0, "afrr_cap_pos_price": 10.0, "afrr_cap_neg_price": 8.0,
              "afrr_cap_pos_marginal": 12.0, "afrr_cap_neg_marginal": 9.0, "afrr_energy_pos_price": 200.0,
              "afrr_energy_neg_price": -30.0, "afrr_activation_pos": 0.5, "afrr_activation_neg": 0.2,
              "imbalance_price": 120.0} | overrides
    return pd.DataFrame({k: np.full(len(idx), v) for k, v in values.items()}, index=idx)


def sim(battery: BatterySpec = BatterySpec(), config: MarketConfig = MarketConfig(), **prices: float) -> Simulator:
    s = Simulator(MarketArrays.from_frame(market(**prices)), Fleet.of([battery]), config, PerfectForecast())
    s.start_day(0, np.random.default_rng(0))
    return s


def cash(values: np.ndarray) -> dict[str, float]:
    return dict(zip(CASH_FLOWS, values[:, 0].tolist(), strict=True))


def test_soc_update_hand_case():
    # charge 4 MW for 15 min at 95 %: +0.95 MWh; discharge 4 MW: -1/0.95 MWh; aux 0.2 MW: -0.05 MWh
    soc = soc_next(np.array([10.0, 10.0]), np.array([-4.0, 4.0]), 0.25, np.array([0.95] * 2), np.array([0.95] * 2),
                   np.array([0.2] * 2))
    assert soc == pytest.approx([10 + 0.95 - 0.05, 10 - 1 / 0.95 - 0.05])


def test_battery_spec_rejects_bad_parameters():
    with pytest.raises(ValueError, match="eta_charge"):
        BatterySpec(eta_charge=1.2)
    with pytest.raises(ValueError, match="soc_initial"):
        BatterySpec(soc_min=0.2, soc_initial=0.1)
    with pytest.raises(ValueError, match="power_mw"):
        BatterySpec(power_mw=0.0)


def test_clearing_rules():
    assert accepted_sell(np.array([10.0, 12.0, 13.0]), 12.0).tolist() == [True, True, False]
    assert accepted_buy(np.array([10.0, 12.0]), 11.0).tolist() == [False, True]
    assert settlement_price(np.array([10.0]), 12.0, pay_as_bid=True)[0] == 10.0
    assert settlement_price(np.array([10.0]), 12.0, pay_as_bid=False) == 12.0
    assert round_volume(np.array([0.95, 1.95, -2.5, 0.04]), 1.0, 1.0).tolist() == [0.0, 1.0, -2.0, 0.0]


def test_day_ahead_settlement_hand_case():
    s = sim()
    a = np.zeros((1, 100))
    a[0, :4] = 0.5  # sell half of 10 MW in the first hour
    s.apply_auction(Stage.DAY_AHEAD, a)
    assert s.day.positions[0, 0, :5].tolist() == [5.0, 5.0, 5.0, 5.0, 0.0]
    c, report = s.deliver(0, np.zeros((1, 9)))
    assert cash(c)["day_ahead"] == pytest.approx(5 * 50 * 0.25)  # 62.5 EUR
    assert report["soc_mwh"][0] == pytest.approx(10.0 - 5 * 0.25 / 0.95)


def test_hourly_day_ahead_averages_the_quarter_hours():
    s = sim()
    a = np.zeros((1, 100))
    a[0, :4] = [0.2, 0.4, 0.6, 0.8]
    s.apply_auction(Stage.DAY_AHEAD, a)
    assert s.day.positions[0, 0, :4].tolist() == [5.0] * 4


def test_intraday_auction_and_continuous_settlement():
    s = sim()
    a = np.zeros((1, 100))
    a[0, 0] = -0.3  # buy 3 MW in IDA1 for the first quarter-hour
    s.apply_auction(Stage.IDA1, a)
    c, _ = s.deliver(0, np.array([[0.5, 0, 0, 0, 0, 0, 0, 0, 0]]))  # and sell half the room continuously
    flows = cash(c)
    assert flows["ida1"] == pytest.approx(-3 * 60 * 0.25)
    # room up: 10 MW power, energy plenty, scheduled -3 MW -> up to 13 MW; half = 6.5 MW
    assert flows["intraday"] == pytest.approx(6.5 * 80 * 0.25 - 6.5 * 0.2 * 0.25)


def test_fcr_capacity_is_paid_per_mw_and_hour():
    s = sim()
    a = np.zeros((1, 9, 6))
    a[0, 0, 0] = 0.5  # 5 MW FCR in block 00-04
    s.apply_capacity(a.reshape(1, -1))
    assert s.day.fcr_mw[0].tolist() == [5.0, 0, 0, 0, 0, 0]
    c, report = s.deliver(0, np.zeros((1, 9)))
    assert cash(c)["fcr"] == pytest.approx(5 * 20 * 0.25)
    assert report["soc_mwh"][0] == pytest.approx(10.0)  # energy-neutral by default


def test_afrr_capacity_pay_as_bid_accepted_and_rejected():
    s = sim()
    a = np.zeros((1, 9, 6))
    a[0, 1, 0], a[0, 3, 0] = 0.4, -1.0  # 4 MW POS at 10 x (1 - 0.5) = 5 EUR/MW/h <= marginal 12: won
    a[0, 2, 0], a[0, 4, 0] = 0.3, 1.0  # 3 MW NEG at 8 x 1.5 = 12 EUR/MW/h > marginal 9: lost
    s.apply_capacity(a.reshape(1, -1))
    assert s.day.afrr_pos_mw[0, 0] == 4.0 and s.day.afrr_neg_mw[0, 0] == 0.0
    c, _ = s.deliver(0, np.zeros((1, 9)))
    flows = cash(c)
    assert flows["afrr_cap_pos"] == pytest.approx(4 * 5 * 0.25)
    assert flows["afrr_cap_neg"] == 0.0


def test_afrr_energy_activation_and_settlement():
    s = sim()
    a = np.zeros((1, 9, 6))
    a[0, 1, 0], a[0, 2, 0] = 0.4, 0.3
    a[0, 3, 0] = a[0, 4, 0] = -1.0
    s.apply_capacity(a.reshape(1, -1))
    # offers at the DA price (50): POS 50 <= 200 activated, NEG 50 >= -30 activated
    c, report = s.deliver(0, np.zeros((1, 9)))
    flows = cash(c)
    assert report["afrr_pos_mwh"][0] == pytest.approx(4 * 0.5 * 0.25)
    assert report["afrr_neg_mwh"][0] == pytest.approx(3 * 0.2 * 0.25)
    assert flows["afrr_energy_pos"] == pytest.approx(0.5 * 200)
    assert flows["afrr_energy_neg"] == pytest.approx(-0.15 * -30)  # a negative NEG price pays the provider
    # an offer above the marginal price is not activated
    c, report = s.deliver(1, np.array([[0.0, 1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0]]))  # POS offer at 300 > 200
    assert report["afrr_pos_mwh"][0] == 0.0


def test_imbalance_and_non_delivery_penalty_when_soc_cannot_serve():
    no_intraday = MarketConfig(products=frozenset({"fcr", "afrr_capacity", "afrr_energy", "day_ahead", "imbalance"}))
    s = sim(BatterySpec(soc_initial=0.1), no_intraday)  # empty: SoC at soc_min, nothing to buy back with
    s.day.positions[0, 0, 0] = 5.0  # a sale the battery cannot deliver (forced into the book)
    s.day.committed_mw[0, 0] = 5.0
    s.day.afrr_pos_mw[0, 0] = 2.0
    s._derive()
    c, report = s.deliver(0, np.zeros((1, 9)))
    flows = cash(c)
    assert report["power_mw"][0] == 0.0
    assert flows["imbalance"] == pytest.approx(-5 * 0.25 * 120)  # short 1.25 MWh at reBAP
    assert report["undelivered_mwh"][0] == pytest.approx(2 * 0.5 * 0.25)
    assert flows["penalty"] == pytest.approx(-0.25 * 1000)
    assert flows["afrr_energy_pos"] == 0.0  # not delivered, not paid


def test_delivery_restores_reserve_headroom_with_a_forced_intraday_trade():
    s = sim(BatterySpec(soc_initial=0.1))  # SoC 2 MWh, but 2 MW aFRR POS needs 2 + 2 / 0.95 MWh
    s.day.afrr_pos_mw[0, :] = 2.0
    s._derive()
    c, report = s.deliver(0, np.array([[1.0, 1.0, 0.0, 0.0, 0.0, 0, 0, 0, 0]]))  # the agent even wants to sell
    needed_mw = (2 / 0.95) / (0.95 * 0.25)  # 8.86 MW of charging reaches the band in one quarter-hour
    # rounded outwards on the 0.1 MW grid (-8.9): towards zero (-8.8) the forced trade would miss the band
    assert report["trade_mw"][0] == pytest.approx(-np.ceil(needed_mw * 10) / 10)
    assert report["soc_mwh"][0] == pytest.approx(2.0 + 8.9 * 0.25 * 0.95)
    assert report["soc_mwh"][0] >= 2.0 + 2 / 0.95
    assert cash(c)["intraday"] == pytest.approx(-8.9 * 0.25 * (80 + 0.2))


def test_imbalance_without_rebap_uses_da_plus_markup():
    cfg = MarketConfig(products=frozenset({"day_ahead"}))
    s = sim(BatterySpec(soc_initial=0.1), cfg)
    s.day.positions[0, 0, 0] = s.day.committed_mw[0, 0] = 2.0
    c, _ = s.deliver(0, np.zeros((1, 9)))
    assert cash(c)["imbalance"] == pytest.approx(-0.5 * 50 - 0.5 * 50)


def test_degradation_cost_on_discharge():
    s = sim(BatterySpec(degradation_cost_eur_mwh=10.0))
    c, report = s.deliver(0, np.array([[1.0, 0, 0, 0, 0, 0, 0, 0, 0]]))  # sell all the room: 10 MW
    assert report["discharged_mwh"][0] == pytest.approx(2.5)
    assert cash(c)["degradation"] == pytest.approx(-25.0)


def test_cycle_limit_caps_trading_discharge():
    s = sim(BatterySpec(max_cycles_per_day=0.25))  # 0.25 x 16 MWh usable = 4 MWh a day
    total = 0.0
    for q in range(8):
        _, report = s.deliver(q, np.array([[1.0, 0, 0, 0, 0, 0, 0, 0, 0]]))
        total += report["discharged_mwh"][0]
    assert total == pytest.approx(4.0, abs=0.03)


def test_reserve_headroom_limits_trading():
    s = sim(BatterySpec(soc_initial=0.36))  # 7.2 MWh, soc_min 2 MWh
    a = np.zeros((1, 9, 6))
    a[0, 1, :] = 0.4  # 4 MW aFRR POS all day, 1 h held: 4 / 0.95 = 4.21 MWh above soc_min
    s.apply_capacity(a.reshape(1, -1))
    _, report = s.deliver(0, np.array([[1.0, -1.0, 0, 0, 0, 0, 0, 0, 0]]))  # POS energy offer far below marginal
    lo = 2.0 + 4 / 0.95
    # the trade may only use the energy above the band; activation then comes from the reserved energy
    assert report["trade_mw"][0] == pytest.approx(np.floor((7.2 - lo) * 0.95 / 0.25 * 10) / 10, abs=1e-9)  # 3.7
    below = sim(BatterySpec(soc_initial=0.3))  # 6 MWh: below the band, so it must buy whatever the agent wants
    below.apply_capacity(a.reshape(1, -1))
    forced = below.deliver(0, np.array([[1.0, 1.0, 0, 0, 0, 0, 0, 0, 0]]))[1]["trade_mw"][0]
    assert forced == pytest.approx(-np.ceil((lo - 6) / (0.95 * 0.25) * 10) / 10)  # -0.9 MW: reaches the band


def test_frequency_fcr_moves_soc_symmetrically_on_average():
    s = sim(config=MarketConfig(fcr_activation="frequency"))
    a = np.zeros((1, 9, 6))
    a[0, 0, :] = 1.0
    s.apply_capacity(a.reshape(1, -1))
    energy = [s.deliver(q, np.zeros((1, 9)))[1]["reserve_mwh"][0] for q in range(96)]
    assert np.std(energy) > 0.01  # activations happen
    assert abs(np.mean(energy)) < 0.2  # and are roughly balanced


def test_rainflow_soh_counts_deeper_cycles_as_more_damage():
    ageing = CycleAgeing(cycles_at_full_depth=5000, depth_exponent=1.3)
    one_full = soh_loss(np.array([0.0, 1.0, 0.0]), ageing)  # two half cycles of full depth
    assert one_full == pytest.approx(0.2 / 5000, rel=1e-6)  # one full cycle: 1/N_100 of the 20 % budget
    two_half = soh_loss(np.array([0.25, 0.75, 0.25, 0.75, 0.25]), ageing)  # two cycles of half depth
    assert 0 < two_half < one_full
    assert soh_loss(np.full(10, 0.5), ageing) == 0.0


def test_exhausted_cycle_budget_stops_discharge_but_never_forces_trades():
    s = sim(BatterySpec(soc_initial=0.1))  # at soc_min
    s.day.discharged_mwh[:] = 100.0  # far beyond the daily budget
    lo, hi = s.trade_range(0)
    assert hi[0] <= 0.0 and lo[0] < 0.0  # no sale possible, buying still allowed
    _, report = s.deliver(0, np.array([[1.0, 0, 0, 0, 0, 0, 0, 0, 0]]))  # the agent wants to sell
    assert report["trade_mw"][0] == 0.0 and report["deviation_mwh"][0] == 0.0
    full = sim(BatterySpec(soc_initial=0.9))  # at soc_max, 2 MW aFRR NEG needs room below it
    full.day.discharged_mwh[:] = 100.0
    full.day.afrr_neg_mw[0, :] = 2.0
    full._derive()
    _, report = full.deliver(0, np.array([[-1.0, 0, 0, 0, 0, 0, 0, 0, 0]]))  # the agent wants to buy
    assert report["trade_mw"][0] > 0.0  # headroom is restored by selling, budget or not
