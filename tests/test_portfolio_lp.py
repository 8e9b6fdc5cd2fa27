"""The joint portfolio LP: equal to the single-asset LPs where nothing couples the assets, whole-MW totals and
internal netting by hand, and as an agent in Portfolio-v1 the env pays what it planned for capacity and
day-ahead."""

from __future__ import annotations

import numpy as np
import pytest

from agents.lp.capacity_bids import capacity_offers
from agents.lp.delegate import DailyLPPolicy
from agents.lp.model import ActorLP, BatteryLP
from agents.lp.reference import PyomoBatteryLP
from agents.lp.terms import LPProducts, SiteTerms, block_of
from agents.portfolio import PortfolioLPPolicy
from bessgym.assets import BatterySpec, SiteSpec
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from bessgym.envs import MarketConfig
from bessgym.envs.portfolio import default_portfolio
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_core import Reliability
from bessgym.envs.single_bess import SingleBESSEnv
from bessgym.market.products import Stage

IDEAL = {"eta_charge": 1.0, "eta_discharge": 1.0, "soc_min": 0.0, "soc_max": 1.0}


def bess(p: float, h: float = 2.0, **battery) -> SiteSpec:
    return SiteSpec(grid_limit_mw=p, pv_mwp=0.0, battery=BatterySpec(power_mw=p, energy_mwh=p * h, **battery))


def test_joint_lp_is_the_sum_of_the_single_lps_when_nothing_couples_them():
    """Continuous reserve totals, day-ahead only (no fee to net): the joint optimum is the sum of each asset's
    own optimum, computed by the independent pyomo model (with the PV site in joint mode), the held aFRR
    capacity's energy called in two spells included; the plans' own objectives add up to it."""
    day = synthetic.generate("2024-01-16", "2024-01-17", seed=2)
    assert (day["da_price"] > 0).all()  # no negative prices: the single LP needs no binaries either
    sites = [bess(2.0), bess(0.6, 1.0), SiteSpec(grid_limit_mw=4.0, pv_mwp=6.0,
                                                 battery=BatterySpec(power_mw=3.0, energy_mwh=6.0))]
    products = LPProducts(day_ahead=True, fcr=True, afrr_capacity=True, fcr_hold_h=0.5, ancillary_max_share=0.8,
                          fcr_max_share=0.8)
    prices = {"price_da": day["da_price"].to_numpy(), "price_fcr": day["fcr_price"].to_numpy(),
              "price_pos": day["afrr_cap_pos_price"].to_numpy(), "price_neg": day["afrr_cap_neg_price"].to_numpy(),
              "price_energy_pos": np.full(96, 400.0), "price_energy_neg": np.full(96, -150.0)}
    called = np.zeros((4, 3, 96))  # aFRR POS called at half its volume 10:00-11:00, NEG at 0.3 18:00-18:30
    called[0, :, 40:44], called[1, :, 72:74] = 0.5, 0.3
    pv = np.array([s.pv_mwp for s in sites])[:, None] * day["pv_per_mwp"].to_numpy()
    pv_value = np.full((3, 96), 42.0)
    e = np.array([s.battery.energy_mwh for s in sites])
    soc0 = 0.5 * e
    joint = ActorLP(sites, products, 96)
    plans = joint.solve(soc0_mwh=soc0, soc_end_mwh=(soc0, soc0), max_discharge_mwh=1.6 * e, pv_forecast_mw=pv,
                        pv_value_eur_mwh=pv_value, called_share=called, **prices)
    single = []
    for i, s in enumerate(sites):
        site = SiteTerms(s.grid_limit_mw, mode="joint") if s.pv_mwp else None
        lp = PyomoBatteryLP(s.battery, products, 96, site=site)
        extra = {"pv_forecast_mw": pv[i], "pv_value_eur_mwh": pv_value[i]} if site else {}
        single.append(lp.solve(soc0_mwh=soc0[i], soc_end_mwh=(soc0[i], soc0[i]), max_discharge_mwh=1.6 * e[i],
                               called_share=called[:, i], **prices, **extra).objective_eur)
    assert joint.objective_eur == pytest.approx(sum(single), rel=1e-6)
    assert joint.gap_eur == 0.0
    assert sum(p.objective_eur for p in plans) == pytest.approx(joint.objective_eur, rel=1e-6)
    assert sum(p.afrr_pos_mw[2] for p in plans) > 0  # the called spell's block holds aFRR POS: it counts

    for s, p in zip(sites, plans, strict=True):  # each plan within its asset's limits
        b = s.battery
        assert (p.soc_mwh >= b.soc_min * b.energy_mwh - 1e-6).all()
        assert (p.soc_mwh <= b.soc_max * b.energy_mwh + 1e-6).all()
        assert (p.fcr_mw + p.afrr_pos_mw <= 0.8 * b.power_mw + 1e-6).all()
        assert (p.pv_out_mw + p.discharge_mw - p.charge_mw <= s.grid_limit_mw + 1e-6).all()


def test_a_solve_takes_typed_inputs_and_names_a_parameter_of_the_wrong_shape():
    """``ActorLP.inputs`` validates and shapes once; solving from it equals solving from the keywords, and the
    solve's reserve columns come back under the table's held columns."""
    day = synthetic.generate("2024-01-16", "2024-01-17", seed=2)
    sites = [bess(2.0), bess(1.0)]
    products = LPProducts(day_ahead=True, fcr=True, afrr_capacity=True, mfrr_capacity=True)
    prices = {"price_da": day["da_price"].to_numpy(), "price_fcr": day["fcr_price"].to_numpy(),
              "price_mpos": day["mfrr_cap_pos_price"].to_numpy()}
    soc0 = np.array([2.0, 1.0])
    lp = ActorLP(sites, products, 96)
    keywords = {"soc0_mwh": soc0, "soc_end_mwh": (soc0, soc0), "max_discharge_mwh": 2 * soc0, **prices}
    inputs = lp.inputs(**keywords)
    assert inputs.shape == (2, 96, 1) and inputs.prices["price_neg"].shape == (96,) and not inputs.holds_schedule
    from_inputs = lp.solve(inputs)
    assert lp.value(**keywords) == pytest.approx(sum(p.objective_eur for p in from_inputs), abs=1e-6)
    assert from_inputs[0].mfrr_pos_mw.shape == (6,) and from_inputs[0].mfrr_pos_mw.max() > 0
    with pytest.raises(ValueError, match=r"pv_forecast_mw has shape \(96,\), expected \(2, 96\)"):
        lp.inputs(**keywords, pv_forecast_mw=np.zeros(96))
    with pytest.raises(ValueError, match="unknown price 'price_capacity_market'"):
        lp.inputs(**keywords, price_capacity_market=np.zeros(96))
    with pytest.raises(ValueError, match=r"LPInputs of shape \(2, 96, 1\).*for a model of \(1, 96, 1\)"):
        ActorLP(sites[:1], products, 96).solve(inputs)


def test_whole_mw_totals_by_hand():
    """Three 0.5 MW batteries, FCR at 10 EUR/MW/h: continuous 1.5 MW per block (360 EUR a day), the portfolio
    bids whole MW: 1 MW (240 EUR), shared among them, each within its 0.5 MW; gap 120 EUR."""
    sites = [bess(0.5, **IDEAL)] * 3
    products = LPProducts(day_ahead=True, fcr=True, integer_reserves=True)
    lp = ActorLP(sites, products, 96)
    half = np.full(3, 0.5)
    plans = lp.solve(soc0_mwh=half, soc_end_mwh=(half, half), max_discharge_mwh=np.full(3, 2.0),
                     price_fcr=np.full(96, 10.0))
    assert lp.bound_eur == pytest.approx(360.0) and lp.objective_eur == pytest.approx(240.0)
    assert lp.gap_eur == pytest.approx(120.0)
    fcr = np.array([p.fcr_mw for p in plans])
    assert fcr.sum(axis=0) == pytest.approx(np.ones(6)) and (fcr <= 0.5 + 1e-9).all()
    alone = BatteryLP(sites[0].battery, products, 96)  # alone, whole MW per asset: nothing
    assert alone.solve(soc0_mwh=0.5, soc_end_mwh=(0.5, 0.5), price_fcr=np.full(96, 10.0)).objective_eur == 0.0


def test_internal_netting_by_hand():
    """One full battery must end empty, one empty must end full (1 MWh each, lossless), intraday at 50 EUR/MWh
    with a 1 EUR/MWh fee: alone they pay 49 - 51 = -2 EUR; in the portfolio they trade at the same time, the
    net is zero and nobody pays a fee."""
    sites = [bess(1.0, 1.0, **IDEAL)] * 2
    lp = ActorLP(sites, LPProducts(day_ahead=False, intraday=True, intraday_fee_eur_mwh=1.0), 96)
    plans = lp.solve(soc0_mwh=np.array([1.0, 0.0]), soc_end_mwh=(np.array([0.0, 1.0]),) * 2,
                     max_discharge_mwh=np.full(2, 2.0), price_id=np.full(96, 50.0))
    assert lp.objective_eur == pytest.approx(0.0, abs=1e-6)
    x = np.array([p.intraday_mw for p in plans])
    assert np.abs(x.sum(axis=0)).max() == pytest.approx(0.0, abs=1e-9)  # nothing reaches the exchange
    assert x[0].sum() * 0.25 == pytest.approx(1.0) and x[1].sum() * 0.25 == pytest.approx(-1.0)
    assert plans[0].objective_eur == pytest.approx(50.0) and plans[1].objective_eur == pytest.approx(-50.0)


def test_policy_in_the_env_pays_what_it_planned():
    """Perfect foresight, no outages, continuous energy volumes: the env awards the plan's whole-MW reserve
    totals (shared as planned) and pays the plan's capacity (to float32 actions' precision) and day-ahead
    revenue."""
    market = MarketArrays.from_frame(synthetic.generate("2024-06-20", "2024-06-22", seed=4))
    config = MarketConfig(products=frozenset({"fcr", "afrr_capacity", "day_ahead", "imbalance"}),
                          ancillary_max_share=0.8, fcr_max_share=0.8, fcr_hold_h=0.5, wholesale_increments=False)
    env = PortfolioParallelEnv(market, default_portfolio(), config, reliability=Reliability(), episode_days=1,
                               start_day="2024-06-20", agent_stages=("capacity", "day_ahead", "delivery"))
    _, infos = env.reset(seed=0)
    policy, view = PortfolioLPPolicy(), env.day_view
    cash = 0.0
    while env.agents:
        info = infos[env.agents[0]]
        stage = Stage[info["stage"].upper()]
        actions = policy.act(view, stage, info["quarter_hour"])
        _, _, _, _, infos = env.step(dict(zip(env.agents, actions, strict=True)))
        cash = cash + sum(np.array(list(i["cash_flow_eur"].values())) for i in infos.values())
        if stage == Stage.CAPACITY:
            span = slice(view.start, view.start + view.n_qh)
            for planned, won in (("fcr_mw", view.fcr_mw), ("afrr_pos_mw", view.afrr_pos_mw),
                                 ("afrr_neg_mw", view.afrr_neg_mw)):
                mine = np.array([getattr(p, planned) for p in policy._plan])
                assert mine.sum(axis=0) == pytest.approx(np.round(mine.sum(axis=0)), abs=1e-6)  # whole MW
                assert won == pytest.approx(mine, abs=1e-6)
    flows = dict(zip(env.cash_flows, cash, strict=True))
    col, blk = market.columns, block_of(96)
    # pay-as-bid aFRR: offered at the (known) marginal price, at most 1.5 x the average, and paid the offer
    pos, neg = (capacity_offers(col[f"afrr_cap_{d}_marginal"][span], col[f"afrr_cap_{d}_price"][span],
                                config.capacity_price_band, 0.0)[0] for d in ("pos", "neg"))
    capacity = sum(0.25 * (col["fcr_price"][span] * p.fcr_mw[blk] + pos * p.afrr_pos_mw[blk]
                           + neg * p.afrr_neg_mw[blk]).sum() for p in policy._plan)
    day_ahead = sum(0.25 * (col["da_price"][span] * p.day_ahead_mw).sum() for p in policy._plan)
    assert flows["fcr"] + flows["afrr_cap_pos"] + flows["afrr_cap_neg"] == pytest.approx(capacity, rel=1e-7)
    assert flows["day_ahead"] == pytest.approx(day_ahead, rel=1e-9)
    assert flows["penalty"] == 0.0 and policy.gaps_eur[0] >= 0.0


def test_policy_refuses_other_envs():
    env = SingleBESSEnv(agent_stages=("capacity", "day_ahead", "delivery"))
    env.reset(seed=0)
    stage, q = env.runner.current
    with pytest.raises(TypeError, match="portfolio"):
        PortfolioLPPolicy().act(env.day_view, stage, q)


def _play(env: PortfolioParallelEnv, policy):
    """Step a PettingZoo portfolio from reset with a delegate-protocol policy, yielding (stage, quarter-hour)
    before each decision so the caller can look or change the scenario."""
    _, infos = env.reset(seed=0)
    while env.agents:
        info = infos[env.agents[0]]
        stage, q = Stage[info["stage"].upper()], info["quarter_hour"]
        yield stage, q
        actions = policy.act(env.day_view, stage, q)
        _, _, _, _, infos = env.step(dict(zip(env.agents, actions, strict=True)))


def _fail_for_good(env: PortfolioParallelEnv, asset: int) -> None:
    sim = env._runner.sim
    sim.outages.p_repair[:] = 0.0
    sim.fail([asset])


@pytest.mark.parametrize("make_policy", [PortfolioLPPolicy, lambda: DailyLPPolicy("day_ahead")],
                         ids=["joint", "per_asset"])
def test_an_outage_when_the_next_day_is_planned_changes_its_bids(make_policy):
    """The joint LP and the per-asset LPs plan each day with the assets in service then: an asset that fails
    during day 1 and is not repaired bids no reserve and no schedule for day 2, and the other's bids stay
    within its own 80 % ancillary share; without the outage the asset bids."""
    market = MarketArrays.from_frame(synthetic.generate("2024-06-20", "2024-06-23", seed=4))
    config = MarketConfig(products=frozenset({"fcr", "afrr_capacity", "day_ahead", "imbalance"}),
                          ancillary_max_share=0.8, fcr_max_share=0.8, fcr_hold_h=0.5)
    sites = [SiteSpec(grid_limit_mw=10.0, pv_mwp=0.0, battery=BatterySpec(10.0, 20.0))] * 2

    def day_two_awards(fail: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        env = PortfolioParallelEnv(market, sites, config, reliability=Reliability(), episode_days=2,
                                   start_day="2024-06-20", agent_stages=("capacity", "day_ahead", "delivery"))
        policy, view, day = make_policy(), env.day_view, 0
        for stage, q in _play(env, policy):
            if stage == Stage.CAPACITY:
                day += 1
            if day == 2 and stage == Stage.DAY_AHEAD:  # day 2's reserves are awarded: read them and its plan
                return (np.array(view.fcr_mw + view.afrr_pos_mw), np.array(view.fcr_mw + view.afrr_neg_mw),
                        np.array([p.day_ahead_mw for p in policy._plan]))
            if fail and day == 1 and stage == Stage.DELIVERY and q == 90:
                _fail_for_good(env, 0)
        raise AssertionError("day 2 was not reached")

    up, down, schedule = day_two_awards(fail=True)
    assert (up[0] == 0).all() and (down[0] == 0).all() and np.abs(schedule[0]).max() < 1e-9, schedule[0]  # planned out
    assert up[1].sum() > 0 and (up[1] <= 8.0 + 1e-9).all() and (down[1] <= 8.0 + 1e-9).all()  # 80 % of 10 MW
    healthy_up, healthy_down, _ = day_two_awards(fail=False)
    assert healthy_up[0].sum() + healthy_down[0].sum() > 0  # the same asset bids when it is in service


@pytest.mark.parametrize("make_policy", [PortfolioLPPolicy, lambda: DailyLPPolicy("day_ahead")],
                         ids=["joint", "per_asset"])
def test_an_outage_before_the_ida3_gate_closes_the_assets_position_in_the_auction(make_policy):
    """The control loop's new bid: asset 0 fails at 06:00 for good; at IDA3 (D 10:00) the policy buys
    back its day-ahead position for 12:00-24:00, so nothing of it is left for the re-dispatch or the
    imbalance price; the sibling's schedule is unchanged. Without the outage IDA3 changes nothing."""
    market = MarketArrays.from_frame(synthetic.generate("2024-06-20", "2024-06-23", seed=4))
    config = MarketConfig(products=frozenset({"day_ahead", "ida", "intraday", "imbalance"}))
    sites = [SiteSpec(grid_limit_mw=10.0, pv_mwp=0.0, battery=BatterySpec(10.0, 20.0))] * 2

    def around_ida3(fail: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        env = PortfolioParallelEnv(market, sites, config, reliability=Reliability(), episode_days=1,
                                   start_day="2024-06-21", agent_stages=("day_ahead", "ida3", "delivery"))
        view, before = env.day_view, None
        for stage, q in _play(env, make_policy()):
            if stage == Stage.IDA3:
                before = np.array(view.committed_mw)
            elif before is not None:
                return before, np.array(view.committed_mw), np.array(view.local_hour)
            if fail and stage == Stage.DELIVERY and q == 24:
                _fail_for_good(env, 0)
        raise AssertionError("IDA3 was not reached")

    before, after, hour = around_ida3(fail=True)
    window = hour >= 12
    assert np.abs(before[0, window]).sum() > 1.0  # asset 0 had a day-ahead position there
    assert np.abs(after[0, window]).max() <= 0.1 + 1e-9  # closed, to the exchange's 0.1 MW grid
    assert np.allclose(after[0, ~window], before[0, ~window])  # before 12:00 IDA3 does not trade
    assert np.allclose(after[1], before[1], atol=0.1 + 1e-9)  # the sibling keeps its plan
    healthy_before, healthy_after, _ = around_ida3(fail=False)
    assert np.allclose(healthy_after, healthy_before)
