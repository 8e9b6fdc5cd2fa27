"""The multi-market methodology (agents.multimarket): its rules, the capacity's energy offers at the price limit,
and its energy-only aFRR offers at DA +- 50 % settled by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents import multimarket
from agents.lp.delegate import run_policy
from bessgym.data import delivery_day_index, synthetic
from bessgym.envs import MarketArrays, MarketConfig, SingleBESSEnv
from bessgym.envs.codec import energy_offer_eur_mwh
from bessgym.market.products import Stage
from experiments.config import ExperimentConfig


@pytest.mark.parametrize("forecast", ["perfect", "noisy"])
def test_multi_market_methodology_respects_its_rules(forecast):
    market = synthetic.generate("2024-06-20", "2024-06-23", seed=3)
    daily = multimarket.run_multi_market(market, energy_mwh=20.0, forecast=forecast, start_day="2024-06-20", days=2)
    assert list(daily.index.astype(str)) == ["2024-06-20", "2024-06-21"]
    assert (daily[["fcr", "afrr_cap_pos", "afrr_cap_neg", "day_ahead"]].sum() > 0).all()
    if forecast == "perfect":  # forecast activations that do not come leave the SoC off its plan
        assert daily["penalty"].sum() == 0.0
    assert daily["intraday"].sum() == 0.0  # the methodology does not trade intraday
    assert np.allclose(daily.drop(columns="total").sum(axis=1), daily["total"])
    # the rules: FCR at most 80 % of power, reserves in one direction at most 80 %
    env = SingleBESSEnv(market, multimarket.battery(20.0), multimarket.market_config(), forecast=forecast,
                        agent_stages=("capacity",), start_day="2024-06-20", track_soh=False)
    env.reset(seed=0)
    policy = multimarket.MultiMarketPolicy()
    env.step(policy.act(env.day_view, Stage.CAPACITY, -1)[0].astype(np.float32))
    d = env.day_view
    assert (d.fcr_mw <= 8.0).all()
    assert (d.fcr_mw + d.afrr_pos_mw <= 8.0).all() and (d.fcr_mw + d.afrr_neg_mw <= 8.0).all()


def test_capacity_offers_meant_not_to_be_activated_are_activated_only_at_the_limit():
    """The capacity's aFRR energy offers sit at the +-15,000 EUR/MWh limit: activated only where the marginal
    price is at the limit itself. Synthetic 2025 (seed 1) reaches it in one quarter-hour, on 17 February; the
    four weeks around it are run (the whole year took minutes and shows nothing more)."""
    year = synthetic.generate("2025-01-01", "2026-01-01", seed=1)
    local = year.index.tz_convert("Europe/Berlin")
    market = year[(local >= pd.Timestamp("2025-02-03", tz="Europe/Berlin"))
                  & (local < pd.Timestamp("2025-03-03", tz="Europe/Berlin"))]
    cap = multimarket.market_config().afrr_energy_price_cap_eur_mwh
    at_limit = (market["afrr_energy_pos_price"] >= cap) | (market["afrr_energy_neg_price"] <= -cap)
    assert at_limit.sum() >= 1  # the window holds the cap hit
    daily = multimarket.run_multi_market(market, energy_only=False)
    assert len(daily) == 28 and daily.attrs["activated_share"] <= at_limit.mean() < 1e-3
    by_day = at_limit.groupby(market.index.tz_convert("Europe/Berlin").date).any()
    energy = daily["afrr_energy_pos"] + daily["afrr_energy_neg"]
    assert (energy[~by_day.reindex(daily.index, fill_value=False)] == 0).all()  # none on days without a cap hit
    assert (daily["afrr_cap_pos"] + daily["afrr_cap_neg"]).sum() > 0  # capacity is held and paid


def test_energy_only_offers_at_da_plus_minus_half_settled_by_hand():
    """Day-ahead flat at 40 EUR/MWh: energy-only offers go in at 60 (POS) and 20 (NEG). POS marginal prices
    are 59 (not cleared) at 07:30 and 100 (cleared, half the quarter-hour activated) at 10:00; NEG 21 (not
    cleared) at 12:30 and 10 (cleared, 40 % activated) at 15:00; no activation elsewhere. The 10 MW / 20 MWh
    battery (95 % each way) must end the day at its start SoC with no other market to restore it: the NEG call
    can bring in at most 10 MW x 0.4 x 0.25 h = 1 MWh (0.95 MWh stored), so the LP offers the POS call only
    the 0.95 x 0.95 = 0.9025 MWh that returns: 3.61 MW of the 5 MW the activation share would call."""
    idx = delivery_day_index("2025-11-04")
    pos_price, neg_price = np.full(96, 50.0), np.full(96, 30.0)
    pos_share, neg_share = np.zeros(96), np.zeros(96)
    pos_price[30], pos_share[30] = 59.0, 1.0
    pos_price[40], pos_share[40] = 100.0, 0.5
    neg_price[50], neg_share[50] = 21.0, 1.0
    neg_price[60], neg_share[60] = 10.0, 0.4
    day = pd.DataFrame({"da_price": 40.0, "afrr_energy_pos_price": pos_price, "afrr_energy_neg_price": neg_price,
                        "afrr_activation_pos": pos_share, "afrr_activation_neg": neg_share}, index=idx)
    config = MarketConfig(products=frozenset({"afrr_energy", "day_ahead"}),
                          energy_price_band_eur_mwh=multimarket.market_config().energy_price_band_eur_mwh)
    env = SingleBESSEnv(day, multimarket.battery(20.0), config, agent_stages=("day_ahead", "delivery"),
                        track_soh=False)
    policy = multimarket.MultiMarketPolicy()
    with env.runner.recording() as log:
        daily = run_policy(env, policy, seed=0).iloc[0]
    pos = np.array([r["afrr_pos_mwh"][0] for r in log])
    neg = np.array([r["afrr_neg_mwh"][0] for r in log])
    assert np.flatnonzero(pos).tolist() == [40] and np.flatnonzero(neg).tolist() == [60]
    hair = pytest.approx  # the policy offers 1e-6 less than the LP's plan (see agents.multimarket)
    assert neg[60] == hair(1.0, rel=1e-5) and pos[40] == hair(0.95 * 0.95, rel=1e-5)
    assert daily["afrr_energy_pos"] == hair(0.9025 * 100.0, rel=1e-5)
    assert daily["afrr_energy_neg"] == hair(-1.0 * 10.0, rel=1e-5)  # the battery pays the NEG price
    assert daily["day_ahead"] == pytest.approx(0.0) and daily["penalty"] == 0.0
    assert daily["total"] == hair(80.25, rel=1e-5)
    assert log[-1]["soc_mwh"][0] == hair(10.0, rel=1e-5)
    # the offers as the env decodes them: DA x 1.5 and DA x 0.5
    view = env.day_view
    a = view.codec.energy_only_action(np.ones(1), np.ones(1), np.array([60.0]), np.array([20.0]), np.array([40.0]))
    band, cap = config.energy_price_band_eur_mwh, config.afrr_energy_price_cap_eur_mwh
    assert energy_offer_eur_mwh(a[0, 2], 40.0, band, cap) == pytest.approx(60.0)
    assert energy_offer_eur_mwh(a[0, 3], 40.0, band, cap) == pytest.approx(20.0)
    # without the energy-only offers the day earns nothing
    env.close()
    env = SingleBESSEnv(day, multimarket.battery(20.0), config, agent_stages=("day_ahead", "delivery"),
                        track_soh=False)
    assert run_policy(env, multimarket.MultiMarketPolicy(energy_only=False), seed=0)["total"].iloc[0] == 0.0


def test_day_ahead_prices_are_not_seen_before_their_gate():
    env = SingleBESSEnv(synthetic.generate("2025-11-04", "2025-11-05", seed=0),
                        agent_stages=("day_ahead", "delivery"), track_soh=False)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not known before the day-ahead gate"):
        env.day_view.day_ahead_price  # noqa: B018 (the property raises)
    env.step(np.zeros(env.action_space.shape, dtype=np.float32))
    assert env.day_view.day_ahead_price.shape == (96,)


@pytest.fixture(scope="module")
def year_2024() -> pd.DataFrame:
    return synthetic.default_year()


@pytest.mark.parametrize("day", ["2024-03-04", "2024-03-12"])
def test_the_methodology_plans_the_days_where_a_rounded_schedule_left_no_exact_plan(day, year_2024):
    """From 50 % SoC on these days of the synthetic year, the env's 0.1 MW rounding of the day-ahead schedule
    left the SoC a few kWh below the next block's aFRR headroom (10.38 MWh where 10.42 MWh are held on
    4 March): the energy-only LP, bound to that schedule exactly, was infeasible and the run stopped. The LP now
    prices a miss of a held schedule and of the end state (agents.lp.model) and the day runs, without penalty."""
    daily = multimarket.run_multi_market(year_2024, start_day=day, days=1)
    assert len(daily) == 1 and daily["penalty"].iloc[0] == 0.0
    assert daily[["fcr", "afrr_cap_pos", "day_ahead"]].iloc[0].min() > 0 and daily["afrr_energy_pos"].iloc[0] > 0


def test_the_methodology_is_a_strategy_of_evaluate_and_a_command(tmp_path, year_2024):
    """``multimarket`` in evaluate acts like run_multi_market in the same env; ``bessgym multimarket`` writes its
    table by size with the products grouped as the methodology reports them."""
    from typer.testing import CliRunner

    from experiments.cli import app
    from experiments.evaluate import make_agent, make_env, not_applicable, run_agent
    from experiments.tasks import task

    config = task("multimarket-2h").config(days=2)
    assert not_applicable("multimarket", config) is None
    assert not_applicable("multimarket", ExperimentConfig()) is not None  # the intraday task bids no day-ahead
    market = MarketArrays.from_frame(synthetic.generate("2025-01-01", "2025-01-03", seed=1))
    env = make_env(config, market, forecast="perfect", episode_days=2, start_day=market.dates[0])
    evaluation = run_agent(make_agent("multimarket", config), env, seed=0)
    direct = run_policy(make_env(config, market, forecast="perfect", episode_days=2, start_day=market.dates[0]),
                        multimarket.MultiMarketPolicy(), seed=0)
    assert evaluation.reward_eur == pytest.approx(direct["total"].sum())
    result = CliRunner().invoke(app, ["multimarket", "--out", str(tmp_path), "--start", "2024-03-04", "--days", "2",
                                      "--energy-mwh", "20"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(tmp_path / "multimarket.csv", index_col=0)
    daily = pd.read_csv(tmp_path / "daily_20mwh.csv", index_col=0)
    assert list(daily.index) == ["2024-03-04", "2024-03-05"]
    row = table.loc[20.0].rename(lambda c: c.removesuffix("_eur_per_mw_year"))
    assert row["total"] == pytest.approx(daily["total"].mean() * 365 / 10.0, rel=1e-4)
    assert row["capacity"] == pytest.approx(daily[["fcr", "afrr_cap_pos", "afrr_cap_neg"]].sum(axis=1).mean()
                                            * 36.5, rel=1e-4)
    assert row[["capacity", "afrr_energy", "day_ahead", "penalty", "other"]].sum() == pytest.approx(row["total"])
    bad = CliRunner().invoke(app, ["multimarket", "--out", str(tmp_path), "--forecast", "psychic"])
    assert bad.exit_code == 2 and "--forecast" in bad.output
