"""Co-located PV + battery: the connection limit under any action, hand-computed PV cash flows, the EEG
negative-price rule, operating modes, and the env's conformance."""

from __future__ import annotations

import datetime as dt

import gymnasium as gym
import numpy as np
import pandas as pd
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bessgym  # noqa: F401  (registers the ids)
from bessgym.assets import BatterySpec
from bessgym.assets.site import (
    EEGMarketPremium,
    PayAsProducedPPA,
    ProfilePPA,
    SiteSpec,
    negative_price_rule_hours,
    premium_suspended,
)
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from bessgym.envs import MarketConfig
from bessgym.envs.colocated import CoLocatedPVBESSEnv
from bessgym.envs.site import CURTAIL
from tests.conftest import contract_table

BATTERY = BatterySpec(power_mw=10, energy_mwh=20, eta_charge=0.95, eta_discharge=0.95, soc_min=0.1, soc_max=0.9)
RESERVES_AND_DA = MarketConfig(products=frozenset({"fcr", "afrr_capacity", "day_ahead", "imbalance"}),
                               fcr_hold_h=0.5, ancillary_max_share=0.8, fcr_max_share=0.8)


@pytest.fixture(scope="module")
def june() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2024-06-20", "2024-06-24", seed=4))


def _flat_day(pv_per_mwp: float, da: float = 50.0, id1: float = 100.0, start: str = "2024-03-05") -> pd.DataFrame:
    """One Berlin day (UTC quarter-hours 23:00..23:00) with constant prices and PV."""
    df = contract_table(days=2, start=f"{pd.Timestamp(start) - pd.Timedelta(days=1):%Y-%m-%d}")
    df["da_price"] = da
    df["id1_price"] = id1
    df["imbalance_price"] = da
    df["pv_per_mwp"] = pv_per_mwp
    return df


def _delivery_step(env: CoLocatedPVBESSEnv, curtail: float, trade: float = 0.0) -> dict:
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    action[0], action[CURTAIL] = trade, curtail
    _, _, _, _, info = env.step(action)
    return info


# ------------------------------------------------------------------------------------ conformance


@pytest.mark.parametrize("kwargs", [{}, {"site": SiteSpec(green_only=True, contract=EEGMarketPremium()),
                                         "forecast": "noisy"},
                                    {"site": SiteSpec(contract=ProfilePPA()), "agent_stages": ("delivery",)}])
def test_check_env_and_determinism(june, kwargs):
    env = CoLocatedPVBESSEnv(june, **kwargs)
    check_env(env, skip_render_check=True)
    runs = []
    for _ in range(2):
        obs, _ = env.reset(seed=3)
        rng = np.random.default_rng(1)
        trace = [obs]
        for _ in range(120):
            obs, reward, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            trace.append(np.r_[obs, reward])
            if term or trunc:
                break
        runs.append(np.concatenate(trace))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_registered_and_sb3_runs():
    from stable_baselines3 import PPO

    from agents.rl import quiet

    env = gym.make("bessgym/CoLocatedPVBESS-v1", agent_stages=("delivery",))
    quiet(PPO("MlpPolicy", env, n_steps=64, batch_size=32, seed=0, device="cpu")).learn(128)


# ------------------------------------------------------------------------- the connection limit


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), extreme=st.booleans(), green=st.booleans(), grid=st.sampled_from([6.0, 10.0, 14.0]))
def test_grid_limit_never_exceeded(june, seed, extreme, green, grid):
    """Random or adversarial (all entries at +-1) actions over a summer day with reserves activated: the net
    exchange stays within the limit, green-only storage never imports, PV never exceeds what is available,
    SoC stays within its hard bounds."""
    site = SiteSpec(grid_limit_mw=grid, pv_mwp=12.0, battery=BATTERY, green_only=green)
    env = CoLocatedPVBESSEnv(june, site, MarketConfig(fcr_activation="frequency"), forecast="noisy")
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    done = False
    while not done:
        a = rng.uniform(-1, 1, env.action_space.shape)
        if extreme:
            a = np.sign(a)
        _, _, term, trunc, info = env.step(a.astype(np.float32))
        done = term or trunc
        if "physics" in info:
            p = info["physics"]
            assert -grid - 1e-9 <= p["grid_export_mw"] <= grid + 1e-9
            if green:
                assert p["grid_export_mw"] >= -1e-9
            assert -1e-9 <= p["pv_out_mw"] <= p["pv_available_mw"] + 1e-9
            assert BATTERY.soc_min * 20 - 1e-6 <= p["soc_mwh"] <= BATTERY.soc_max * 20 + 1e-6


def test_reserves_are_capped_to_what_the_connection_delivers():
    """Green-only storage cannot import, so its NEG reserve (charging) is limited by the PV forecast of the
    block: nothing at night; by day the smallest PV forecast of the block."""
    day = _flat_day(0.3)
    day.loc[day.index.hour < 6, "pv_per_mwp"] = 0.0  # no PV in the first hours (UTC)
    for column in ("fcr_price", "afrr_cap_pos_price", "afrr_cap_neg_price", "afrr_cap_pos_marginal",
                   "afrr_cap_neg_marginal"):
        day[column] = 10.0
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, green_only=True)
    env = CoLocatedPVBESSEnv(day, site, MarketConfig(products=frozenset({"afrr_capacity", "imbalance"})),
                             agent_stages=("capacity",))
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    action[12:18] = 1.0  # all NEG capacity offered in every block, at the forecast price
    env.step(action)
    neg = env.simulator.day.afrr_neg_mw[0]
    assert neg[0] == 0.0  # block 00-04 local: no PV
    assert neg[3] == 3.0  # 12-16 local: PV forecast 3 MW all block long -> 3 MW (1 MW steps)


# ------------------------------------------------------------------------------ hand-computed cash


def test_curtailment_is_paid_to_the_pv_owner_by_hand():
    """PV 8 MW available, PPA 42 EUR/MWh, other losses 8 EUR/MWh, half curtailed by the site with the battery
    idle: PV earns 4 MW x 0.25 h x 42 = 42 EUR; the battery's side pays the PV owner 4 x 0.25 x (42 + 8) = 50
    EUR, of which the PV owner loses 8 (guarantees of origin): the site loses 42 + 8."""
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=PayAsProducedPPA(42.0),
                    curtailment_other_eur_mwh=8.0)
    env = CoLocatedPVBESSEnv(_flat_day(0.8), site, MarketConfig(products=frozenset({"intraday", "imbalance"})),
                             agent_stages=("delivery",))
    env.reset(seed=0)
    info = _delivery_step(env, curtail=0.5)
    cash = info["cash_flow_eur"]
    assert info["physics"]["curtailed_mw"] == pytest.approx(4.0)
    assert info["physics"]["curtailed_for_battery_mw"] == pytest.approx(4.0)
    assert cash["pv_ppa"] == pytest.approx(42.0)
    assert cash["curtailment_payment"] == pytest.approx(-50.0) and cash["pv_compensation"] == pytest.approx(50.0)
    assert cash["pv_other_losses"] == pytest.approx(-8.0)
    # the battery discharging at full power takes the room: PV is curtailed to 10 - 10 = 0 MW, not the limit
    info = _delivery_step(env, curtail=0.0, trade=1.0)
    assert info["physics"]["grid_export_mw"] == pytest.approx(10.0)
    assert info["physics"]["pv_out_mw"] == pytest.approx(10.0 - info["physics"]["power_mw"])
    # PV priority: the battery yields and PV is not curtailed
    info = _delivery_step(env, curtail=-1.0, trade=1.0)
    assert info["physics"]["pv_out_mw"] == pytest.approx(8.0)
    assert info["physics"]["power_mw"] <= 2.0 + 1e-9


def test_profile_ppa_shortfall_by_hand():
    """Profile 6 MW 08:00-20:00 at 72 EUR/MWh, PV 4 MW, ID1 100 EUR/MWh: the site is paid 6 x 0.25 x 72 = 108
    EUR and buys the 2 MW shortfall, 2 x 0.25 x 100 = 50 EUR; before 08:00 nothing is owed and PV is sold at
    the day-ahead price (50 EUR/MWh)."""
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=ProfilePPA(6.0, 8, 20, 72.0))
    env = CoLocatedPVBESSEnv(_flat_day(0.4), site, MarketConfig(products=frozenset({"intraday", "imbalance"})),
                             agent_stages=("delivery",))
    env.reset(seed=0)
    flows = []
    while True:
        _, _, q = env.unwrapped.decision_point
        info = _delivery_step(env, curtail=0.0)
        flows.append((q, info["cash_flow_eur"]))
        if q == 40:  # 10:00 local
            break
    q7 = dict(flows)[4 * 7]  # 07:00-07:15 local
    q10 = dict(flows)[40]
    assert q7["pv_ppa"] == 0.0 and q7["pv_market"] == pytest.approx(4 * 0.25 * 50)
    assert q10["pv_ppa"] == pytest.approx(108.0) and q10["pv_market"] == pytest.approx(-50.0)


def test_eeg_negative_price_rule():
    assert negative_price_rule_hours(dt.date(2015, 6, 1)) is None
    assert negative_price_rule_hours(dt.date(2019, 6, 1)) == 6.0
    assert negative_price_rule_hours(dt.date(2022, 6, 1)) == 4.0
    assert negative_price_rule_hours(dt.date(2024, 6, 1)) == 3.0
    assert negative_price_rule_hours(dt.date(2025, 3, 1)) == 0.25
    prices = np.r_[np.full(8, 5.0), np.full(8, -1.0), np.full(4, 5.0), np.full(12, -2.0), np.full(4, 5.0)]
    assert not premium_suspended(prices, 3.0)[8:16].any()  # 2 h negative: premium still paid
    assert premium_suspended(prices, 3.0)[20:32].all() and premium_suspended(prices, 3.0).sum() == 12
    assert premium_suspended(prices, 0.25).sum() == 20  # every negative quarter-hour
    assert not premium_suspended(prices, None).any()


def test_eeg_premium_in_the_env_by_hand():
    """EEG plant of 2024 (3 h rule), value 80 EUR/MWh, PV 5 MW: on a day of -10 EUR/MWh all day the premium is
    suspended and PV pays to feed in; at +20 EUR/MWh all day (market value 20) it earns 20 + (80 - 20)."""
    contract = EEGMarketPremium(value_eur_mwh=80.0, commissioned=dt.date(2024, 6, 1))
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=contract)
    config = MarketConfig(products=frozenset({"intraday", "imbalance"}))
    for price, expected in ((-10.0, (5 * 0.25 * -10, 0.0)), (20.0, (5 * 0.25 * 20, 5 * 0.25 * 60))):
        env = CoLocatedPVBESSEnv(_flat_day(0.5, da=price), site, config, agent_stages=("delivery",))
        env.reset(seed=0)
        info = _delivery_step(env, curtail=0.0)
        assert (info["cash_flow_eur"]["pv_market"], info["cash_flow_eur"]["pv_premium"]) == pytest.approx(expected)


# --------------------------------------------------------------------------------- operating modes


def test_joint_optimisation_is_worth_at_least_either_priority(june):
    """With perfect foresight the joint LP's site value is at least PV-priority's and BESS-priority's."""
    from agents.colocation import SiteLPPolicy
    from agents.lp.delegate import run_policy

    site = SiteSpec(battery=BATTERY)
    totals = {}
    for mode in ("pv_priority", "bess_priority", "joint"):
        env = CoLocatedPVBESSEnv(june, site, RESERVES_AND_DA, agent_stages=("capacity", "day_ahead", "delivery"),
                                 episode_days=4, start_day="2024-06-20")
        totals[mode] = run_policy(env, SiteLPPolicy(mode), seed=0)["total"].sum()
    assert totals["joint"] >= totals["pv_priority"] * (1 - 1e-9)  # to float precision of 4 days' sums
    assert totals["joint"] >= totals["bess_priority"] * (1 - 1e-9)
    assert totals["pv_priority"] > 0


def test_with_volumes_as_planned_each_mode_earns_its_plan_and_joint_leads_every_day():
    """With day-ahead volumes executed as planned (``MarketConfig.wholesale_increments=False``), the env pays the
    joint and the PV-priority plans exactly their LP objective, the site's value with perfect foresight, so the
    joint plan, whose LP admits both priorities' plans, is worth at least either on every day. (With the
    exchange's 0.1 MW grid each mode's continuous plan is rounded, which moves its day by a few EUR and its end
    SoC off the plan: noise in the comparison, docs/colocation.md.)"""
    from agents.lp.delegate import run_policy
    from agents.lp.terms import SITE_MODES
    from experiments.sizing import Case, study_market_config, study_policy

    market = MarketArrays.from_frame(synthetic.generate("2024-04-10", "2024-04-13", seed=0))
    case, daily = Case(10.0, 2.0, True, "perfect"), {}
    for mode in SITE_MODES:
        env = CoLocatedPVBESSEnv(market, case.site(), study_market_config(True, False),
                                 agent_stages=("capacity", "day_ahead", "delivery"), episode_days=2,
                                 start_day="2024-04-11")
        policy = study_policy(case, mode)
        daily[mode] = run_policy(env, policy, seed=0)["total"]
        if mode != "bess_priority":  # whose LP values the battery alone
            planned = np.concatenate(policy.objectives)
            assert daily[mode].to_numpy() == pytest.approx(planned, rel=1e-8), mode
    for other in ("pv_priority", "bess_priority"):
        assert (daily["joint"] >= daily[other] - 1e-6).all(), other


def test_sizing_study_writes_table_chart_and_mlflow(tmp_path, monkeypatch):
    import mlflow

    from experiments.sizing import sizing_study

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    market = synthetic.generate("2024-06-20", "2024-06-23", seed=4)
    table = sizing_study(market, tmp_path / "out", powers=(10.0,), durations=(2.0,), forecasts=("perfect",),
                         days=2, workers=1)
    row = table.iloc[0]
    assert row["reduction_pct"] == pytest.approx(100 * (1 - row["colocated_eur_per_mw_year"]
                                                        / row["standalone_eur_per_mw_year"]))
    assert row["standalone_eur_per_mw_year"] > 0 and row["pv_eur_per_year"] > 0
    assert (tmp_path / "out" / "sizing.csv").exists() and (tmp_path / "out" / "sizing.png").exists()
    markdown = (tmp_path / "out" / "sizing.md").read_text().splitlines()
    assert markdown[0].startswith("| battery | standalone") and len(markdown) == 5  # header, rule, one battery
    assert markdown[2] == (f"| 10 MW / 2 h | {row['standalone_eur_per_mw_year'] / 1e3:,.0f} | "
                           f"{row['reduction_pct']:.1f} % | {row['site_eur_per_year'] / 1e6:.3f} |")
    run = mlflow.search_runs(experiment_names=["colocation-sizing"], output_format="list")[0]
    assert "reduction_pct_10mw_2h_perfect" in run.data.metrics


def test_mode_comparison_writes_each_modes_site_value(tmp_path):
    """``bessgym colocation modes``: a day of the study's site in each mode; joint planning (the battery's
    account with the PV owner paid for what is committed) is worth at least PV priority's, and only the modes
    that may commit pay for curtailment."""
    from experiments.sizing import mode_comparison

    market = synthetic.generate("2024-06-20", "2024-06-22", seed=4)
    table = mode_comparison(market, tmp_path, days=1)
    assert (tmp_path / "modes.csv").exists() and len(table) == 1
    assert table["site_eur_joint"].iloc[0] >= table["site_eur_pv_priority"].iloc[0] - 1e-6
    assert table["battery_eur_joint"].iloc[0] >= table["battery_eur_pv_priority"].iloc[0] - 1e-6
    assert table["curtailment_paid_eur_pv_priority"].iloc[0] == 0.0
