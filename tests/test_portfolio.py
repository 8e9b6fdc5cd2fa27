"""Portfolio: pooled bids let small assets in, schedules add up to the portfolio's positions, limits hold
under outages, an outage is covered by the others, internal netting, allocation, API conformance."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import bessgym  # noqa: F401  (registers the ids)
from bessgym.assets import BatterySpec, SiteSpec
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from bessgym.envs import MarketConfig
from bessgym.envs.pooling import pool_net, pool_volumes
from bessgym.envs.portfolio import PortfolioEnv
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_core import Reliability
from bessgym.market.allocation import shapley
from bessgym.market.products import N_BLOCKS


@pytest.fixture(scope="module")
def june() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2024-06-20", "2024-06-23", seed=4))


def bess(p: float, h: float = 2.0) -> SiteSpec:
    return SiteSpec(grid_limit_mw=p, pv_mwp=0.0, battery=BatterySpec(power_mw=p, energy_mwh=p * h))


NEVER = Reliability(mtbf_h=None)


def test_conformance(june):
    check_env(PortfolioEnv(june), skip_render_check=True)
    from pettingzoo.test import parallel_api_test

    parallel_api_test(PortfolioParallelEnv(june, agent_stages=("delivery",)), num_cycles=150)


def test_pooling_by_hand():
    volumes = np.array([[0.4, 0.0], [0.6, 0.3], [0.45, 0.3]])  # three assets, two blocks
    pooled = pool_volumes(volumes, 1.0, 1.0)
    assert pooled.sum(axis=0) == pytest.approx([1.0, 0.0])  # 1.45 MW -> one 1 MW bid; 0.6 MW -> no bid
    assert (pooled <= volumes + 1e-12).all() and pooled[0, 0] == pytest.approx(0.4 / 1.45)
    trades = np.array([0.55, -0.3, 0.08])  # net 0.33 MW -> 0.3 MW at the exchange; the seller of -0.3 keeps it
    netted = pool_net(trades, 0.1)
    assert netted.sum() == pytest.approx(0.3) and netted[1] == -0.3
    assert netted[0] == pytest.approx(0.55 - 0.03 * 0.55 / 0.63)
    assert netted[2] == pytest.approx(0.08 - 0.03 * 0.08 / 0.63)
    assert pool_net(np.array([0.5, -0.5]), 0.1) == pytest.approx([0.5, -0.5])  # fully netted inside
    both = pool_net(np.stack([trades, -trades], axis=1), 0.1)  # (N, T): each column on its own
    assert both[:, 0] == pytest.approx(netted) and both[:, 1] == pytest.approx(-netted)


def test_central_observation_is_the_power_weighted_average_of_the_assets(june):
    """Portfolio-v1 averages the assets' windows once per commitment change instead of building N rows per
    step; it must equal the power-weighted mean of the per-asset observations."""
    sites = [bess(0.4), bess(2.0, 1.0), bess(10.0), SiteSpec(grid_limit_mw=5.0, pv_mwp=5.0, battery=BatterySpec(
        power_mw=5.0, energy_mwh=10.0))]
    env = PortfolioEnv(june, sites, reliability=Reliability(mtbf_h=20.0, mttr_h=2.0), episode_days=2)
    obs, _ = env.reset(seed=3)
    rng = np.random.default_rng(3)
    weights = np.array([0.4, 2.0, 10.0, 5.0]) / 17.4
    stages = set()
    for _ in range(150):  # through every auction of the first day and into delivery
        stages.add(env.decision_point[0])
        assert obs[:-2] == pytest.approx(weights @ env.runner.observation(), abs=1e-5)
        obs, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
    assert {"capacity", "day_ahead", "delivery"} <= stages


def test_small_assets_take_part_only_in_the_portfolio(june):
    """Three batteries of 0.4-0.6 MW offer all their FCR: each alone is below the 1 MW minimum bid and wins
    nothing; as a portfolio they bid 1 MW per block (the pooled total rounded down), shared among all three."""
    small = [bess(0.4), bess(0.6), bess(0.45)]
    config = MarketConfig(products=frozenset({"fcr", "day_ahead"}))
    full_fcr = np.zeros(100, dtype=np.float32)
    full_fcr[:N_BLOCKS] = 1.0
    alone = []
    for site in small:
        env = PortfolioEnv(june, [site], config, reliability=NEVER, agent_stages=("capacity",))
        env.reset(seed=0)
        env.step(full_fcr[:env.action_space.shape[0]])
        alone.append(env.simulator.day.fcr_mw.sum())
    assert alone == [0.0, 0.0, 0.0]
    env = PortfolioEnv(june, small, config, reliability=NEVER, agent_stages=("capacity",))
    env.reset(seed=0)
    env.step(full_fcr[:env.action_space.shape[0]])
    fcr = env.simulator.day.fcr_mw
    assert fcr.sum(axis=0) == pytest.approx(np.ones(N_BLOCKS))
    assert (fcr > 0).all() and (fcr <= np.array([[0.4], [0.6], [0.45]]) + 1e-12).all()


def test_schedules_sum_to_positions_and_limits_hold(june):
    """Random decisions with frequent outages: per quarter-hour the assets' day-ahead schedules add up to the
    portfolio position on the 0.1 MW grid, no battery exceeds its rating or its site's connection, a failed
    battery stands still, SoC stays within bounds, and the allocation sums to the portfolio's cash."""
    sites = [bess(10.0), bess(2.0, 1.0), bess(0.6),
             SiteSpec(grid_limit_mw=4.0, pv_mwp=6.0, battery=BatterySpec(power_mw=3.0, energy_mwh=6.0))]
    env = PortfolioEnv(june, sites, MarketConfig(fcr_activation="frequency"),
                       reliability=Reliability(mtbf_h=20.0, mttr_h=2.0), episode_days=2)
    env.reset(seed=5)
    sim = env.simulator
    rng = np.random.default_rng(5)
    power = sim.fleet.power_mw
    done, failed_steps = False, 0
    while not done:
        stage = env.unwrapped.decision_point[0]
        _, reward, term, trunc, info = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        done = term or trunc
        assert info["asset_cash_eur"].sum() == pytest.approx(reward, abs=1e-6)
        if stage == "day_ahead":
            total = sim.day.positions[:, 0].sum(axis=0)
            assert np.allclose(total, np.round(total / 0.1) * 0.1, atol=1e-6)
        if "physics" in info:
            p = info["physics"]
            assert (np.abs(p["power_mw"]) <= power + 1e-9).all()
            assert (np.abs(p["grid_export_mw"]) <= sim.grid_mw + 1e-9).all()
            down = p["available"] == 0
            failed_steps += down.any()
            assert np.allclose(p["power_mw"][down], 0.0)
            assert (p["soc_mwh"] >= sim.fleet.soc_min_mwh - 1e-6).all()
            assert (p["soc_mwh"] <= sim.fleet.soc_max_mwh + 1e-6).all()
    assert failed_steps > 10  # the outages happened


def _two_hours_with_outage(june, failed: list[int]) -> dict:
    """Two 10 MW batteries with 4 MW aFRR POS capacity each; the failed ones are out for the first two hours of
    delivery (within the energy the survivor holds)."""
    env = PortfolioEnv(june, [bess(10.0), bess(10.0)], MarketConfig(products=frozenset({"afrr_capacity",
                                                                                         "afrr_energy"})),
                       reliability=NEVER, agent_stages=("capacity", "delivery"))
    env.reset(seed=0, options={"start_day": "2024-06-21"})
    action = np.zeros(env.action_space.shape, dtype=np.float32)
    action[6:12] = 0.4  # aFRR POS: 0.4 of each asset's power, at the forecast price (accepted)
    env.step(action)
    env.simulator.fail(failed)
    env.simulator.outages.p_repair[:] = 0.0
    deliver = np.zeros(env.action_space.shape, dtype=np.float32)
    total_penalty, activated = 0.0, 0.0
    for _ in range(8):
        _, _, _, _, info = env.step(deliver)
        total_penalty += info["cash_flow_eur"]["penalty"]
        activated += info["physics"]["afrr_pos_mwh"].sum()
    return {"penalty": total_penalty, "activated": activated, "pos_mw": env.simulator.day.afrr_pos_mw}


def test_outage_is_covered_by_the_others(june):
    """One of two batteries fails: the other has the headroom, so the portfolio still delivers every activation
    of both awards without penalty. With both out, activation goes undelivered."""
    covered = _two_hours_with_outage(june, [0])
    assert covered["pos_mw"].sum() > 0 and covered["activated"] > 0
    assert covered["penalty"] == 0.0
    nobody = _two_hours_with_outage(june, [0, 1])
    assert nobody["penalty"] < 0


def test_what_nobody_can_cover_deviates_in_the_failing_quarter_hour_then_is_retraded_intraday(june):
    """By hand: both assets sold 10:00-11:00 day-ahead (c0 on the 10 MW asset, c1 on the 1 MW one); asset 0
    fails at 10:00 and the sibling has 1 - c1 MW to take. At 10:00 the gate has passed: the rest,
    c0 - (1 - c1), deviates for 0.25 h at reBAP. From 10:15 the portfolio buys it back intraday (ID1 and
    the fee, no deviation)."""
    config = MarketConfig(products=frozenset({"day_ahead", "intraday", "imbalance"}))
    env = PortfolioEnv(june, [bess(10.0), bess(1.0)], config, reliability=NEVER,
                       agent_stages=("day_ahead", "delivery"))
    env.reset(seed=0, options={"start_day": "2024-06-21"})
    sell = np.zeros(env.action_space.shape, dtype=np.float32)
    sell[40:44] = 1.0  # 10:00-11:00 (hourly day-ahead in 2024), as much as the day's SoC allows
    env.step(sell)
    sim = env.simulator
    c0, c1 = sim.day.committed_mw[:, 40]
    short = c0 - (1.0 - c1)
    assert short > 1.0 and c1 > 0
    rebap, id1 = sim.col("imbalance_price")[sim.day.start:], sim.col("id1_price")[sim.day.start:]
    fee = config.intraday_fee_eur_mwh
    hold = np.zeros(env.action_space.shape, dtype=np.float32)
    for q in range(43):
        if q == 40:  # the outage is drawn at 10:00's start, after its gate
            sim.outages.p_fail[0], sim.outages.p_repair[0] = 1.0, 0.0
        _, _, _, _, info = env.step(hold)
        p, cash = info["physics"], info["cash_flow_eur"]
        if q == 40:
            assert p["deviation_mwh"] == pytest.approx([-short * 0.25, 0.0])
            assert p["trade_mw"] == pytest.approx([0.0, 0.0]) and p["power_mw"] == pytest.approx([0.0, 1.0])
            assert cash["imbalance"] == pytest.approx(-short * 0.25 * rebap[40])
        if q in (41, 42):
            assert p["retraded_mw"] == pytest.approx([-short, 0.0]) and p["deviation_mwh"] == pytest.approx(0.0)
            assert cash["intraday"] == pytest.approx((-short * id1[q] - short * fee) * 0.25)
            assert cash["imbalance"] == pytest.approx(0.0)


def test_internal_netting(june):
    """Two assets trade intraday in opposite directions: only the net reaches the exchange and pays the fee."""
    env = PortfolioParallelEnv(june, [bess(10.0), bess(10.0)], MarketConfig(products=frozenset({"intraday"})),
                               reliability=NEVER, agent_stages=("delivery",))
    env.reset(seed=0)
    width = env.action_space("asset_0").shape[0]
    sell, buy = np.zeros(width, np.float32), np.zeros(width, np.float32)
    sell[0], buy[0] = 0.5, -0.5
    _, rewards, _, _, _ = env.step({"asset_0": sell, "asset_1": buy})
    report = env._runner.report
    assert report["gross_trade_mwh"][0] > 0
    assert report["external_trade_mwh"][0] < report["gross_trade_mwh"][0]
    trade = report["trade_mw"]
    price = env._runner.sim.col("id1_price")[env._runner.sim.day.start]
    fee = 0.2 * 0.25 * abs(trade.sum())  # only the net pays the fee
    assert sum(rewards.values()) == pytest.approx(trade.sum() * price * 0.25 - fee)


def test_shapley_by_hand_and_on_a_portfolio(june):
    # glove game: player 0 has a left glove, 1 and 2 right gloves; a pair is worth 1
    phi = shapley(lambda s: float(0 in s and (1 in s or 2 in s)), 3)
    assert phi == pytest.approx([2 / 3, 1 / 6, 1 / 6]) and phi.sum() == pytest.approx(1.0)
    # on a real portfolio: v(S) = one day of FCR for the sites in S; the allocation sums to v(all)
    sites = [bess(0.6), bess(0.5), bess(2.0)]
    config = MarketConfig(products=frozenset({"fcr", "day_ahead"}))

    def value(coalition: frozenset[int]) -> float:
        if not coalition:
            return 0.0
        env = PortfolioEnv(june, [sites[i] for i in sorted(coalition)], config, reliability=NEVER,
                           agent_stages=("capacity",), start_day="2024-06-21")
        env.reset(seed=0)
        action = np.zeros(env.action_space.shape, dtype=np.float32)
        action[:N_BLOCKS] = 1.0
        _, reward, *_ = env.step(action)
        return reward

    phi = shapley(value, 3)
    assert phi.sum() == pytest.approx(value(frozenset({0, 1, 2})))
    assert phi[0] > 0 and phi[1] > 0  # the small ones earn a share, though neither could bid alone
    with pytest.raises(ValueError, match="1 <= n <= 12"):
        shapley(lambda s: 0.0, 13)


def test_portfolio_vs_alone_experiment(june, tmp_path, monkeypatch):
    """Two small batteries and a large one, two days: alone the small ones are shut out of reserves; in the
    portfolio they take part and earn more; planned jointly the portfolio earns more than alone (per-asset
    plans, pooled and rounded to the grid, cost the large asset part of its reserve: on this market the pooled
    total comes within 1 % of alone); everything lands in MLflow."""
    import mlflow

    from experiments.portfolio import compare

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    table, summary = compare(june, [bess(0.6), bess(0.4, 1.0), bess(10.0)], tmp_path / "out", days=2,
                             reliability=NEVER)
    assert summary["small_assets_shut_out_alone"] == 2 and summary["small_assets_in_reserves_portfolio"] == 2
    assert (table["revenue_portfolio_eur"].iloc[:2] > table["revenue_alone_eur"].iloc[:2]).all()
    assert summary["revenue_portfolio_eur"] > 0.99 * summary["revenue_alone_eur"]
    assert summary["revenue_joint_eur"] > summary["revenue_alone_eur"]
    assert (table["reserve_joint_mwh"].iloc[:2] > 0).all()
    assert (tmp_path / "out" / "comparison.csv").exists()
    # the portfolio's revenue allocated three ways, each summing to it; Shapley exact (3 assets: 8 coalitions)
    for how in ("pro_rata", "contribution", "shapley"):
        assert table[f"allocated_{how}_eur"].sum() == pytest.approx(summary["revenue_portfolio_eur"], rel=1e-9)
    assert summary["shapley_exact"] == 1.0 and summary["portfolio_runs"] == 2**3  # every sub-portfolio ran once
    run = mlflow.search_runs(experiment_names=["portfolio"], output_format="list")[0]
    assert run.data.metrics["revenue_portfolio_eur"] == pytest.approx(summary["revenue_portfolio_eur"])


def test_common_random_numbers_give_an_asset_the_same_outages_alone_and_in_the_portfolio(june):
    from experiments.portfolio import run_portfolio

    often = [Reliability(mtbf_h=20.0, mttr_h=4.0, seed=s) for s in (11, 12)]
    pooled = run_portfolio(june, [bess(1.0), bess(2.0)], days=2, reliability=often)["available"]
    alone = run_portfolio(june, [bess(2.0)], days=2, reliability=often[1:])["available"]
    assert (pooled[:, 1] == alone[:, 0]).all() and (pooled[:, 1] == 0).sum() > 5  # the same path, with outages
    assert (pooled[:, 0] != pooled[:, 1]).any()  # each asset its own stream
    other = run_portfolio(june, [bess(2.0)], days=2, reliability=[Reliability(mtbf_h=20.0, mttr_h=4.0, seed=13)])
    assert (other["available"][:, 0] != alone[:, 0]).any()


def test_sampled_shapley_converges_to_the_exact_values():
    from bessgym.market.allocation import sampled_shapley

    rng = np.random.default_rng(0)
    worth = {frozenset(c): float(rng.uniform(0, len(c) ** 1.5)) for k in range(7)
             for c in itertools.combinations(range(6), k)}
    worth[frozenset()] = 0.0
    exact = shapley(worth.__getitem__, 6)
    errors = []
    for orders in (20, 2000):
        phi, stderr = sampled_shapley(worth.__getitem__, 6, orders, np.random.default_rng(1))
        assert phi.sum() == pytest.approx(worth[frozenset(range(6))])  # every order is efficient
        assert (np.abs(phi - exact) <= 4 * stderr + 1e-12).all()  # within the error it states
        errors.append(np.abs(phi - exact).max())
    assert errors[1] < errors[0] / 3  # and the error shrinks as 1/sqrt(orders)


def test_scale_curve_costs_by_hand_and_risk_per_mw(june, tmp_path):
    from experiments.scale import Costs, scale_curve

    sites = [bess(2.0), bess(0.6), bess(10.0)]
    table = scale_curve(june, sites, tmp_path, days=2, sizes=(1, 3), costs=Costs(5_000.0, 100_000.0, 0.0),
                        reliability=NEVER)
    assert table.index.tolist() == [1, 3] and table["power_mw"].tolist() == [2.0, 12.6]
    # without a cost per order, the costs per MW and year are the fixed ones: (5,000 n + 100,000) / MW
    assert table["cost_eur_per_mw_year"].tolist() == pytest.approx([105_000 / 2.0, 115_000 / 12.6])
    assert table["margin_eur_per_mw_year"].to_numpy() == pytest.approx(
        (table["revenue_eur_per_mw_year"] - table["cost_eur_per_mw_year"]).to_numpy(), rel=1e-12)
    assert (table["orders_per_day"] > 0).all() and (table["worst_day_eur_per_mw"] * 365
                                                    <= table["revenue_eur_per_mw_year"] + 1e-6).all()
    assert (tmp_path / "scale.csv").exists() and (tmp_path / "scale.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="Costs.order_eur"):
        Costs(order_eur=-1.0)


def test_per_asset_actions_move_only_their_asset(june):
    import gymnasium as gym

    from bessgym.envs.portfolio_per_asset import ASSET_STATE, PortfolioPerAssetEnv

    sites = [bess(2.0), bess(1.0), bess(3.0)]
    env = PortfolioPerAssetEnv(june, sites, MarketConfig(products=frozenset({"intraday", "imbalance"})),
                               reliability=NEVER, agent_stages=("delivery",))
    check_env(env, skip_render_check=True)
    obs, info = env.reset(seed=0)
    width = env.unwrapped.runner.width
    assert env.action_space.shape == (3 * width,) and info["action_mask"].shape == (3 * width,)
    assert obs.shape == env.observation_space.shape
    state = obs[-3 * ASSET_STATE:].reshape(3, ASSET_STATE)
    assert state[:, 1].tolist() == [1.0, 1.0, 1.0] and state[:, 2].tolist() == [1.0, 1.0, 1.0]
    action = np.zeros((3, width), dtype=np.float32)
    action[1, 0] = 1.0  # asset 1 sells all its room; the others hold
    _, _, _, _, info = env.step(action.ravel())
    trade = info["physics"]["trade_mw"]
    assert trade[1] > 0 and trade[0] == 0.0 and trade[2] == 0.0
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(width, dtype=np.float32))
    assert gym.make("bessgym/PortfolioPerAsset-v1").action_space.shape[0] == 6 * 100  # six assets, all stages


def test_pooled_bids_at_several_prices_are_each_on_the_grid():
    """A portfolio's reserve volume at one price is one bid: whatever subset of its prices the auction accepts,
    the accepted total is on the grid (1 MW minimum and steps), and no asset ends above what it offered."""
    from bessgym.envs.pooling import Pooled

    volumes = np.array([[0.7, 2.0], [0.8, 0.5], [0.6, 0.5], [0.9, 0.0]])  # four assets, two blocks
    prices = np.array([[10.0, 5.0], [20.0, 5.0], [10.0, 5.0], [20.0, 5.0]])
    pooled = Pooled(True).reserves(volumes, 1.0, 1.0, prices)
    # block 0: 1.3 MW at 10 -> 1 MW, 1.7 MW at 20 -> 1 MW (the pooled total of 3.0 MW would have been 3 bids'
    # worth; at two prices it is two bids of 1 MW); block 1: 3.0 MW at one price -> 3 MW
    for price in (10.0, 20.0):
        assert pooled[prices[:, 0] == price, 0].sum() == pytest.approx(1.0)
    assert pooled[:, 1].sum() == pytest.approx(3.0) and (pooled <= volumes + 1e-12).all()
    assert Pooled(True).reserves(volumes, 1.0, 1.0) == pytest.approx(pool_volumes(volumes, 1.0, 1.0))


@pytest.mark.parametrize("seed", [0, 1])
def test_per_asset_capacity_prices_keep_the_accepted_totals_on_the_grid(seed):
    """The reproduction of the reliability issue: every asset offers all its aFRR POS room, every other one at
    the lowest price and the rest at the highest; each block's accepted total is whole MW."""
    import gymnasium as gym

    env = gym.make("bessgym/PortfolioPerAsset-v1", start_day="2024-06-20").unwrapped
    env.reset(seed=seed)
    width = env.runner.width
    action = np.zeros((env.unwrapped.day_view.n, width), np.float32)
    capacity = action[:, :9 * N_BLOCKS].reshape(-1, 9, N_BLOCKS)
    capacity[:, 1], capacity[:, 3] = 1.0, 1.0
    capacity[1::2, 3] = -1.0
    action[:, :9 * N_BLOCKS] = capacity.reshape(len(action), -1)
    env.step(action.ravel())
    totals = env.day_view.afrr_pos_mw.sum(axis=0)
    assert totals == pytest.approx(np.round(totals), abs=1e-9) and (totals > 0).all()
