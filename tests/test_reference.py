"""The benchmark's reference (strategy ``lp``, the 100 % of every share): on one battery it also offers the
free power as aFRR energy where the env pays it, and every reference counts on its held capacity's energy being
called where the marginal price passes its offer, so that no baseline earns what the reference leaves out."""

from __future__ import annotations

import numpy as np

from agents.base import DelegateAgent
from agents.lp.delegate import DailyLPPolicy
from experiments.evaluate import evaluate_strategies, evaluation_period, make_env, run_agent
from experiments.tasks import task


def period(name: str, days: int, strategies: list[str] | None = None, seed: int = 0):
    t = task(name)
    config = t.config(seed, days=days, **{"evaluate.strategies": strategies or list(t.baselines)})
    return config, evaluation_period(config, config.eval_market.load())[1]


def test_energy_only_offers_add_to_the_plan_every_day_and_the_env_pays_them_without_penalty():
    config, market = period("capacity-2h", 3)
    daily, linked = {}, {}
    for offers in (False, True):
        policy = DailyLPPolicy(wholesale=config.env.wholesale(), energy_offers=offers)
        env = make_env(config, market, forecast="perfect", episode_days=len(market.dates))
        evaluation = run_agent(DelegateAgent(policy, name="lp"), env)
        daily[offers] = evaluation.daily()
        dispatch = evaluation.dispatch.tz_convert("Europe/Berlin")
        linked[offers] = dispatch["afrr_linked_mwh"].groupby(dispatch.index.date).sum().to_numpy()
    # the offers are planned around the same schedule and may be zero: with perfect forecasts never a loss
    assert (daily[True]["total"] >= daily[False]["total"] - 1e-6).all()
    assert daily[True]["afrr_energy_pos"].sum() > daily[False]["afrr_energy_pos"].sum()
    # planned with the trades as the env rounds them, the SoC each schedule needs and the capacity's own offers
    # called where the marginal price passes the band's edge: delivered as planned (to the LP's feasibility
    # tolerance, 1e-7 MWh: a thousandth of a euro of penalty), with no imbalance
    assert np.abs(daily[True]["penalty"]).max() < 1e-3
    assert linked[True].sum() > 0.1  # the held capacity was called: the case tests that too
    assert np.abs(daily[True]["imbalance"]).max() < 1e-6
    assert daily[True]["total"].sum() > 1.2 * daily[False]["total"].sum()


def test_the_methodology_earns_less_than_the_reference():
    """The multi-market methodology earned 140 % of a reference that left the aFRR energy offers out: with
    them the reference bounds it (benchmarks/reference_bound.py: every baseline, 28 days, three seeds)."""
    config, market = period("multimarket-2h", 4, ["multimarket", "multimarket_noisy"])
    evaluations = evaluate_strategies(config, market)
    reference = evaluations["lp"].reward_eur
    assert {name: e.reward_eur for name, e in evaluations.items() if e.reward_eur > reference + 1e-6} == {}
    assert evaluations["multimarket"].reward_eur > 0.5 * reference  # the methodology's own offers earn too


def test_the_reference_plans_the_held_capacitys_called_energy_and_ends_each_day_where_it_began():
    """The held capacity's energy offers stand at the band's edge and are called where the marginal price passes
    it: the plan counts on that energy, so each day ends at the SoC it started from, as planned. (A plan that
    left it out drifted with each call: on these days its SoC ended day 3 at 0.78 MWh, not 1.0.)"""
    config, market = period("multimarket-2h", 4, ["lp"])
    dispatch = evaluate_strategies(config, market)["lp"].dispatch
    assert dispatch["afrr_linked_mwh"].sum() > 0.1  # called: the case tests something
    ends = dispatch["soc_mwh"].to_numpy().reshape(4, -1)[:, -1]  # four winter days of 96 quarter-hours
    starts = np.r_[config.battery.soc_initial * config.battery.energy_mwh, ends[:-1]]
    # to the exchange's 0.1 MW grid: one quarter-hour's increment is 0.025 MWh
    assert np.abs(ends - starts).max() < 0.025, (starts, ends)
