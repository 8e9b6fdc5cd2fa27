"""The sequential trading baselines (agents.lp.cascade): the cascade against the day-ahead LP on a real month,
the cascade equal to it when intraday prices equal day-ahead, rolling intrinsic on a hand case, and its
re-plans aiming at the day's end SoC they can still reach."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REAL_DATA

from agents.base import DelegateAgent
from agents.lp.cascade import CascadeLPPolicy, reachable_end
from agents.lp.delegate import DailyLPPolicy
from bessgym.assets import BatterySpec
from bessgym.data import delivery_day_index, synthetic
from bessgym.envs import MarketArrays, MarketConfig, SingleBESSEnv
from experiments.config import ExperimentConfig
from experiments.evaluate import make_env, run_agent

AGENT_STAGES = ("day_ahead", "intraday_auctions", "delivery")


def daily_totals(frame: pd.DataFrame, policy, *, battery: BatterySpec = BatterySpec(1.0, 2.0),
                 increments: bool = True) -> pd.Series:
    days = len(frame) // 96
    env = SingleBESSEnv(frame, battery, MarketConfig(products=frozenset({"day_ahead", "intraday"}),
                                                      intraday_fee_eur_mwh=0.2, wholesale_increments=increments),
                        episode_days=days, agent_stages=AGENT_STAGES, track_soh=False)
    return run_agent(DelegateAgent(policy, name="x"), env).daily()["total"]


@pytest.fixture(scope="module")
def real_june() -> pd.DataFrame:
    path = REAL_DATA / "derived" / "real_2024_contract.parquet"
    if not path.exists():
        pytest.skip(f"real market table not found at {path}")
    frame = pd.read_parquet(path)[["da_price", "id1_price"]]
    start = pd.Timestamp("2024-06-01", tz="Europe/Berlin").tz_convert("UTC")
    return frame.loc[start:].iloc[:30 * 96]


def test_cascade_earns_at_least_the_day_ahead_lp_on_every_day_of_a_real_month(real_june):
    da_only = daily_totals(real_june, DailyLPPolicy("day_ahead"))
    cascade = daily_totals(real_june, CascadeLPPolicy())
    assert len(cascade) == 30
    # each stage starts from the held schedule, which trading nothing keeps: it can only add
    assert (cascade >= da_only - 1e-6).all(), (cascade - da_only).min()
    assert (cascade - da_only).mean() > 10.0  # the IDA15 spreads to day-ahead pay, on a 1 MW battery


def test_cascade_equals_the_day_ahead_lp_when_intraday_prices_equal_day_ahead(real_june):
    """The month's day-ahead prices as every later price, placed 104 weeks on in the 15-minute day-ahead era
    (hourly day-ahead positions leave the quarter-hourly markets a real option: cycling within an hour burns
    energy at negative prices) with continuous volumes: every later trade would only pay the fee."""
    flat = real_june.assign(id1_price=real_june["da_price"])
    flat.index = flat.index + pd.Timedelta(weeks=104)
    policy = CascadeLPPolicy()
    da_only = daily_totals(flat, DailyLPPolicy("day_ahead"), increments=False)
    cascade = daily_totals(flat, policy, increments=False)
    np.testing.assert_allclose(cascade.to_numpy(), da_only.to_numpy(), atol=1e-4)
    assert policy.fallbacks == 0


class QuietForecast:
    """Day-ahead as realised; intraday at 50 EUR/MWh with a slope too small to pay the fee on a round trip."""

    def forecast(self, column, realised, n_assets, rng):
        if column == "id1_price":
            return np.broadcast_to(50.0 + 0.001 * np.arange(realised.shape[0]), (n_assets, realised.shape[0]))
        return np.broadcast_to(realised, (n_assets, realised.shape[0]))


def test_rolling_intrinsic_on_a_hand_case():
    """The forecast shows nothing to trade; the quotes show 0 EUR/MWh at 02:30 and 100 at 05:00. Rolling
    intrinsic buys 1 MW at the first and sells it back at the second; the cascade, trading on the forecast
    alone, does nothing."""
    idx = delivery_day_index("2025-11-04")
    intraday = np.full(len(idx), 50.0)
    intraday[10], intraday[20] = 0.0, 100.0
    frame = pd.DataFrame({"da_price": 50.0, "id1_price": intraday}, index=idx)
    battery = BatterySpec(1.0, 1.0, soc_min=0.0, soc_max=1.0, soc_initial=0.5, eta_charge=1.0, eta_discharge=1.0,
                          degradation_cost_eur_mwh=1.0)
    rolling = CascadeLPPolicy(rolling_intrinsic=True)
    env = SingleBESSEnv(frame, battery, MarketConfig(products=frozenset({"day_ahead", "intraday"}),
                                                      intraday_fee_eur_mwh=0.2),
                        agent_stages=AGENT_STAGES, forecast=QuietForecast(), track_soh=False)
    evaluation = run_agent(DelegateAgent(rolling, name="rolling_intrinsic"), env)
    traded = evaluation.dispatch["intraday_mw"].to_numpy()
    expected = np.zeros(len(idx))
    expected[10], expected[20] = -1.0, 1.0  # buy 0.25 MWh at 0, sell it at 100
    np.testing.assert_allclose(traded, expected, atol=1e-9)
    day = evaluation.daily().iloc[0]
    # 0.25 MWh sold at 100, bought at 0; the fee 0.2 EUR/MWh on both trades; degradation 1 EUR/MWh discharged
    assert day["intraday"] == pytest.approx(0.25 * 100 - 2 * 0.25 * 0.2)
    assert day["degradation"] == pytest.approx(-0.25 * 1.0)
    assert day["total"] == pytest.approx(24.65)
    assert rolling.fallbacks == 0
    env.close()
    cascade = CascadeLPPolicy()
    env = SingleBESSEnv(frame, battery, MarketConfig(products=frozenset({"day_ahead", "intraday"}),
                                                      intraday_fee_eur_mwh=0.2),
                        agent_stages=AGENT_STAGES, forecast=QuietForecast(), track_soh=False)
    assert run_agent(DelegateAgent(cascade, name="lp_cascade"), env).daily()["total"].iloc[0] == pytest.approx(0.0)


def test_intraday_quote_is_known_only_from_its_delivery_step():
    idx = delivery_day_index("2025-11-04")
    env = SingleBESSEnv(pd.DataFrame({"da_price": 50.0, "id1_price": np.arange(96.0)}, index=idx),
                        BatterySpec(1.0, 1.0), MarketConfig(products=frozenset({"intraday"})), track_soh=False)
    env.reset(seed=0)
    view = env.unwrapped.day_view
    assert view.delivery_q == 0 and view.intraday_quote(0) == 0.0
    with pytest.raises(ValueError, match="quarter-hour 1 is not known yet"):
        view.intraday_quote(1)
    for _ in range(5):
        env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    assert view.delivery_q == 5 and view.intraday_quote(5) == 5.0


def test_reachable_end_by_hand():
    """1 MW / 2 MWh at 0.9487 each way: two quarter-hours charge at most 2 x 0.25 x 0.9487 = 0.47435 MWh and
    discharge at most 2 x 0.25 / 0.9487 = 0.52704 MWh."""
    b = BatterySpec(1.0, 2.0, eta_charge=0.9487, eta_discharge=0.9487)
    assert reachable_end(1.0, 0.507, 2, b) == pytest.approx(0.507 + 0.47435, abs=1e-5)
    assert reachable_end(0.0, 1.0, 2, b) == pytest.approx(1.0 - 0.52704, abs=1e-5)
    assert reachable_end(0.8, 0.7, 2, b) == 0.8  # within reach: the target itself


def test_rolling_intrinsic_ends_every_day_where_it_began():
    """Trades on the 0.1 MW grid leave the SoC a little short of a plan; the next re-plan makes it up instead of
    finding no plan and trading nothing for the rest of the day (which sold the day's start energy)."""
    market = MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-08", seed=1))
    policy = CascadeLPPolicy(rolling_intrinsic=True, wholesale="intraday")
    agent = DelegateAgent(policy, name="rolling_intrinsic")
    env = make_env(ExperimentConfig(), market)  # the main job's intraday battery
    for seed in range(4):
        obs, info = env.reset(seed=seed)
        agent.reset(env)
        start, done = env.unwrapped.simulator.soc_mwh[0], False
        while not done:
            obs, _, terminated, truncated, info = env.step(agent.act(obs, info))
            done = terminated or truncated
        assert info["soc_mwh"] == pytest.approx(start, abs=0.06)  # at most a quarter-hour's 0.1 MW rounding
    assert policy.fallbacks == 0
