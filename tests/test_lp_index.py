"""LP baselines and the revenue index: hand-checkable days, brute force on tiny cases, real-data figure."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pandas as pd
import pytest
from conftest import real_file

from agents.index import IndexBattery, index_revenues
from agents.lp.model import BatteryLP
from agents.lp.reference import PyomoBatteryLP
from agents.lp.terms import LPProducts, block_of
from bessgym.assets import BatterySpec
from bessgym.data import delivery_day_index

ETA = np.sqrt(0.9)


def one_day(**columns: np.ndarray | float) -> pd.DataFrame:
    idx = delivery_day_index("2024-03-05")
    return pd.DataFrame({k: np.broadcast_to(v, len(idx)).astype(float) for k, v in columns.items()}, index=idx)


def test_each_index_strategy_on_a_hand_checkable_day():
    step = np.r_[np.zeros(48), np.full(48, 100.0)]  # 12 h at 0 EUR/MWh, then 12 h at 100
    day = one_day(da_price=step, id1_price=step, fcr_price=20.0, afrr_cap_pos_price=10.0, afrr_cap_neg_price=8.0)
    r = index_revenues(day).daily.iloc[0]
    assert r["fcr"] == pytest.approx(0.8 * 20 * 24)  # 384
    assert r["afrr_capacity"] == pytest.approx(max(10, 8) * 24)  # 240
    # 1 MW / 2 MWh from SoC 50 % back to 50 %: fill up for free, then sell 1 MWh of cells at 100 x sqrt(0.9)
    assert r["trading"] == pytest.approx(100 * ETA, rel=1e-6)
    assert r["day_ahead_trading"] == pytest.approx(100 * ETA, rel=1e-6)
    # half in symmetric aFRR (0.5 MW each way), half traded: 0.5 MWh of cells sold at 100 x sqrt(0.9)
    assert r["afrr_and_trading"] == pytest.approx(0.5 * (240 + 192) + 0.5 * 100 * ETA, rel=1e-6)
    assert r["daily_optimization"] == pytest.approx(384)


def test_trading_respects_the_cycle_limit():
    saw = np.tile(np.r_[np.zeros(4), np.full(4, 100.0)], 12)  # 12 chances a day to buy at 0 and sell at 100
    day = one_day(da_price=saw, id1_price=saw)
    one = index_revenues(day, IndexBattery(cycles_per_day=1.0), strategies=("trading",)).daily.iloc[0, 0]
    two = index_revenues(day, IndexBattery(cycles_per_day=2.0), strategies=("trading",)).daily.iloc[0, 0]
    # a full cycle is 2 MWh discharged at the grid (as in the env): 2 MWh sold at 100, bought for free
    assert one == pytest.approx(2 * 100, rel=1e-6)
    assert two == pytest.approx(2 * one, rel=1e-6)


def test_missing_columns_skip_strategies_with_the_column_named():
    r = index_revenues(one_day(da_price=50.0))
    assert list(r.daily.columns) == ["day_ahead_trading"]
    assert r.skipped["fcr"] == "needs column 'fcr_price'"
    assert r.skipped["trading"] == "needs column 'id1_price'"
    assert "fcr" in r.skipped["daily_optimization"]


def test_daily_optimization_over_the_strategies_that_run_says_so():
    r = index_revenues(one_day(da_price=50.0, fcr_price=np.full(96, 10.0),
                               afrr_cap_pos_price=np.full(96, 5.0), afrr_cap_neg_price=np.full(96, 3.0)))
    assert "daily_optimization" not in r.skipped
    best = max(r.daily.loc[r.daily.index[0], s] for s in ("fcr", "afrr_capacity"))
    assert r.daily["daily_optimization"].iloc[0] == pytest.approx(best)
    assert r.notes["daily_optimization"].startswith("best of fcr, afrr_capacity only")
    assert "id1_price" in r.notes["daily_optimization"]


def _brute_force(prices: np.ndarray, b: BatterySpec, levels: np.ndarray, end: tuple[float, float]) -> float:
    """Best revenue over every schedule on a power grid whose end SoC lies in ``end`` [MWh]."""
    best = -np.inf
    for powers in itertools.product(levels, repeat=len(prices)):
        soc, value, ok = b.soc_initial * b.energy_mwh, 0.0, True
        for p, price in zip(powers, prices, strict=True):
            soc += (-p / b.eta_discharge if p > 0 else -p * b.eta_charge) * 0.25
            value += p * price * 0.25
            ok &= b.soc_min * b.energy_mwh - 1e-9 <= soc <= b.soc_max * b.energy_mwh + 1e-9
        if ok and end[0] - 1e-9 <= soc <= end[1] + 1e-9:
            best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_lp_matches_brute_force_on_tiny_cases(seed):
    rng = np.random.default_rng(seed)
    prices = rng.uniform(-20, 100, 5).round(1)
    # lossless with power steps that keep SoC on a grid: the optimum lies on the brute-force grid
    b = BatterySpec(power_mw=1.0, energy_mwh=0.5, eta_charge=1.0, eta_discharge=1.0, soc_min=0.0, soc_max=1.0,
                    soc_initial=0.5, max_cycles_per_day=10.0)
    lp = BatteryLP(b, LPProducts(hourly_day_ahead=False, exclusive_charge=True), 5, blocks=np.zeros(5, int))
    result = lp.solve(price_da=prices, soc0_mwh=0.25, soc_end_mwh=(0.25, 0.25))
    brute = _brute_force(prices, b, np.linspace(-1, 1, 5), (0.25, 0.25))
    assert result.objective_eur == pytest.approx(brute, abs=1e-6)
    # with losses the LP (continuous) is at least as good as any grid schedule
    lossy = BatterySpec(**{**b.__dict__, "eta_charge": 0.9, "eta_discharge": 0.9})
    lp = BatteryLP(lossy, LPProducts(hourly_day_ahead=False, exclusive_charge=True), 5, blocks=np.zeros(5, int))
    free_end = lp.solve(price_da=prices, soc0_mwh=0.25, soc_end_mwh=(0.0, 0.5)).objective_eur
    assert free_end >= _brute_force(prices, lossy, np.linspace(-1, 1, 9), (0.0, 0.5)) - 1e-9


def test_lp_with_reserves_keeps_headroom_and_power():
    b = BatterySpec(power_mw=10, energy_mwh=20, soc_initial=0.5)
    products = LPProducts(day_ahead=True, hourly_day_ahead=False, fcr=True, afrr_capacity=True, integer_reserves=True)
    lp = BatteryLP(b, products, 96)
    rng = np.random.default_rng(0)
    r = lp.solve(price_da=rng.normal(80, 40, 96), price_fcr=np.full(96, 15.0), price_pos=np.full(96, 12.0),
                 price_neg=np.full(96, 9.0), soc0_mwh=10.0, soc_end_mwh=(10.0, 10.0))
    blocks = np.repeat(np.arange(6), 16)
    assert np.allclose(r.fcr_mw, np.round(r.fcr_mw)) and (r.fcr_mw + r.afrr_pos_mw <= 10 + 1e-6).all()
    assert (r.discharge_mw + r.fcr_mw[blocks] + r.afrr_pos_mw[blocks] <= 10 + 1e-6).all()
    low = 2 + (0.25 * r.fcr_mw[blocks] + r.afrr_pos_mw[blocks]) / 0.95
    high = 18 - (0.25 * r.fcr_mw[blocks] + r.afrr_neg_mw[blocks]) * 0.95
    assert (r.soc_mwh >= low - 1e-6).all() and (r.soc_mwh <= high + 1e-6).all()


@pytest.mark.realdata
@pytest.mark.slow
def test_real_smard_2024_day_ahead_trading_lands_near_77k():
    from bessgym.data import loaders

    da = loaders.read_smard(real_file("smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"))
    da = da[da.index.tz_convert("Europe/Berlin").year == 2024]
    r = index_revenues(da, strategies=("day_ahead_trading",))
    assert r.annualised()["day_ahead_trading"] == pytest.approx(77_000, rel=0.05)


@pytest.mark.parametrize("wholesale", ["day_ahead", "intraday"])
@pytest.mark.parametrize("reserves", [False, True])
def test_lp_policy_in_the_env_reproduces_its_objective(wholesale, reserves):
    """The env and the LP agree on the accounting: the LP's plan, executed by SingleBESS, pays its objective."""
    from agents.lp.delegate import DailyLPPolicy, run_policy
    from bessgym.data import synthetic
    from bessgym.envs import MarketConfig, SingleBESSEnv

    market = synthetic.generate("2024-06-20", "2024-06-24", seed=1)
    products = {wholesale, "imbalance"} | ({"fcr", "afrr_capacity"} if reserves else set())
    cfg = MarketConfig(products=frozenset(products), wholesale_increments=False)
    env = SingleBESSEnv(market, market_config=cfg, episode_days=3, track_soh=False,
                        agent_stages=("capacity", "day_ahead", "delivery"))
    policy = DailyLPPolicy(wholesale, end_soc=0.5)
    paid = run_policy(env, policy, seed=0, start_day="2024-06-21")["total"].sum()
    planned = float(np.sum(policy.objectives))
    assert paid == pytest.approx(planned, rel=1e-3)
    # with the exchange's 0.1 MW increments the plan is rounded towards zero and can only lose a little
    env_rule = SingleBESSEnv(market, market_config=MarketConfig(products=frozenset(products)), episode_days=3,
                             track_soh=False, agent_stages=("capacity", "day_ahead", "delivery"))
    rounded = run_policy(env_rule, DailyLPPolicy(wholesale, end_soc=0.5), seed=0,
                         start_day="2024-06-21")["total"].sum()
    assert planned * 0.99 < rounded <= planned * 1.0005


def test_joint_horizon_lp_is_a_relaxation_of_the_daily_lps():
    """Daily plans that start and end at the same SoC are feasible for the joint model: joint >= sum of days.
    The array-built joint model equals the pyomo model over the same horizon."""
    from agents.lp.horizon import solve_horizon
    from bessgym.data import synthetic

    market = synthetic.generate("2024-03-05", "2024-03-08", seed=2)
    assert (market["da_price"] >= 0).all()  # the pyomo model needs no binaries here either
    battery = IndexBattery().spec(power_mw=10.0)
    products = LPProducts(day_ahead=True, fcr=True, afrr_capacity=True)
    joint = solve_horizon(market, battery, products, hours=False).objective_eur
    period = dataclasses.replace(battery, max_cycles_per_day=3 * battery.max_cycles_per_day)
    half = 0.5 * battery.energy_mwh
    blocks = np.repeat(np.arange(3) * 6, 96) + np.tile(block_of(96), 3)
    pyomo_model = PyomoBatteryLP(period, products, 288, blocks=blocks)
    assert joint == pytest.approx(pyomo_model.solve(
        price_da=market["da_price"].to_numpy(), price_fcr=market["fcr_price"].to_numpy(),
        price_pos=market["afrr_cap_pos_price"].to_numpy(), price_neg=market["afrr_cap_neg_price"].to_numpy(),
        soc0_mwh=half, soc_end_mwh=(half, half)).objective_eur, rel=1e-7)
    daily = 0.0
    for start in (0, 96, 192):
        lp = BatteryLP(battery, products, 96)
        day = market.iloc[start:start + 96]
        daily += lp.solve(price_da=day["da_price"].to_numpy(), price_fcr=day["fcr_price"].to_numpy(),
                          price_pos=day["afrr_cap_pos_price"].to_numpy(),
                          price_neg=day["afrr_cap_neg_price"].to_numpy(), soc0_mwh=half,
                          soc_end_mwh=(half, half)).objective_eur
    assert joint >= daily - 1e-6
    assert joint < 1.2 * daily  # linking days helps, but only at the margins
    with pytest.raises(ValueError, match="'id1_price'"):
        solve_horizon(market.drop(columns=["id1_price"]), battery, LPProducts(day_ahead=False, intraday=True))


def _quarter_hour_violation(r, b: BatterySpec, products: LPProducts, blocks: np.ndarray) -> float:
    """The largest breach [MW or MWh] of the env's quarter-hour physics by a schedule: energy balance, SoC
    window with each block's reserve headroom at both ends of every quarter-hour, power with reserves,
    day-ahead balance held over each hour."""
    fcr, pos, neg = r.fcr_mw[blocks], r.afrr_pos_mw[blocks], r.afrr_neg_mw[blocks]
    before = np.concatenate([[b.soc_initial * b.energy_mwh], r.soc_mwh[:-1]])
    flow = (b.eta_charge * r.charge_mw - r.discharge_mw / b.eta_discharge - b.aux_power_mw) * 0.25
    low = b.soc_min * b.energy_mwh + (products.fcr_hold_h * fcr + products.afrr_hold_h * pos) / b.eta_discharge
    high = b.soc_max * b.energy_mwh - (products.fcr_hold_h * fcr + products.afrr_hold_h * neg) * b.eta_charge
    return max(np.abs(r.soc_mwh - before - flow).max(), (low - r.soc_mwh).max(), (r.soc_mwh - high).max(),
               (low - before).max(), (before - high).max(),  # held from each block's first moment
               (r.discharge_mw + fcr + pos - b.power_mw).max(), (r.charge_mw + fcr + neg - b.power_mw).max(),
               np.abs(r.discharge_mw - r.charge_mw - r.day_ahead_mw).max(),
               np.ptp(r.day_ahead_mw.reshape(-1, 4), axis=1).max())


def test_joint_horizon_in_hours_holds_at_every_quarter_hour():
    """With hourly day-ahead positions the joint model runs in whole hours: its schedule obeys the physics at
    every quarter-hour, and it earns what the quarter-hour model earns but for the quarter-hour model's
    freedom to charge and discharge at once inside an hour (which the env, executing net power, has not)."""
    from agents.lp.horizon import solve_horizon
    from bessgym.data import synthetic
    from bessgym.data.calendar import block_of_day, split_days

    market = synthetic.generate("2024-03-25", "2024-04-04", seed=3)  # the spring DST day: a 3 h first block
    battery = IndexBattery().spec(power_mw=10.0)
    products = LPProducts(day_ahead=True, fcr=True, afrr_capacity=True)
    blocks = np.concatenate([np.full(s.stop - s.start, i * 6) for i, s in enumerate(split_days(market.index))])
    blocks += block_of_day(market.index)
    hours, quarters = (solve_horizon(market, battery, products, hours=h) for h in (True, False))
    assert _quarter_hour_violation(hours, battery, products, blocks) < 1e-6
    assert hours.objective_eur <= quarters.objective_eur + 1e-6
    assert hours.objective_eur == pytest.approx(quarters.objective_eur, rel=1e-4)
    assert hours.fcr_mw.sum() + hours.afrr_pos_mw.sum() > 0  # reserves are in play
    # rich FCR in the first two blocks, starting empty: the first block cannot be held from its first moment,
    # the second is, after charging in the first; every quarter-hour holds its headroom
    empty = dataclasses.replace(battery, soc_initial=battery.soc_min)
    rich = market.iloc[:96].assign(fcr_price=np.where(blocks[:96] <= 1, 500.0, 0.0))
    first = solve_horizon(rich, empty, products, hours=True)
    assert first.fcr_mw[0] == pytest.approx(0.0, abs=1e-9) and first.fcr_mw[1] > 0
    assert _quarter_hour_violation(first, empty, products, blocks[:96]) < 1e-6
    with pytest.raises(ValueError, match="hours=True"):
        solve_horizon(market, battery, LPProducts(day_ahead=True, intraday=True), hours=True)
    with pytest.raises(ValueError, match="hours=True"):  # starting at a quarter past: hours do not fit
        solve_horizon(market.iloc[1:97], battery, products, hours=True)


def test_joint_horizon_adds_the_cycle_budget_when_the_plan_breaks_it():
    """The budget row is left out first; a plan that cycles too much is re-solved with it (pyomo agrees)."""
    from agents.lp.horizon import solve_horizon
    from bessgym.data import synthetic

    market = synthetic.generate("2024-03-05", "2024-03-07", seed=2)
    battery = dataclasses.replace(IndexBattery().spec(power_mw=10.0), max_cycles_per_day=0.25)
    products = LPProducts(day_ahead=True)
    budget = 2 * 0.25 * battery.usable_energy_mwh
    for hours in (True, False):
        r = solve_horizon(market, battery, products, hours=hours)
        assert r.discharge_mw.sum() * 0.25 == pytest.approx(budget, rel=1e-6)
    period = dataclasses.replace(battery, max_cycles_per_day=0.5)
    half = 0.5 * battery.energy_mwh
    pyomo_model = PyomoBatteryLP(period, products, 192, blocks=np.zeros(192, int))
    assert r.objective_eur == pytest.approx(pyomo_model.solve(
        price_da=market["da_price"].to_numpy(), soc0_mwh=half, soc_end_mwh=(half, half)).objective_eur, rel=1e-7)


def _store(prices: np.ndarray):
    """A 1 MWh lossless store selling ``x`` per step from a level ``s`` (0.5 before the first step), holding
    ``y`` MWh of reserve per two-step block: a chain of steps with a block family, as the joint model."""
    from agents.lp.arrays import ArrayLP

    t = prices.size
    lp = ArrayLP()
    x, s, y = lp.var((t,), -1, 1), lp.var((t,), 0, 1), lp.var((t // 2,), 0, 1, steps=np.arange(0, t, 2))
    first = lp.rows([(1, s), (np.where(np.arange(t) > 0, -1.0, 0.0), s[np.maximum(np.arange(t) - 1, 0)]), (1, x)],
                    0, 0)[:1]
    lp.rows([(1, s), (-1, y[np.arange(t) // 2])], lo=0)
    h = lp.highs()
    h.changeRowsBounds(1, first.astype(np.int32), np.array([0.5]), np.array([0.5]))
    h.changeColsCost(2 * t + t // 2, np.arange(2 * t + t // 2, dtype=np.int32),
                     np.concatenate([prices, np.zeros(t), np.full(t // 2, 3.0)]))
    return lp, h, (x, s, y)


def test_a_window_basis_lands_at_its_steps():
    """A basis placed into a model of the same form: at its own steps it re-solves in no iteration; from a
    window, each column and row gets the status of the window's at the same step (blocks by their start)."""
    prices = np.array([10.0, 50.0, 20.0, 80.0, 5.0, 60.0, 30.0, 90.0])
    lp, h, _ = _store(prices)
    h.run()
    again, h2, _ = _store(prices)
    h2.setBasis(again.basis_from([(lp, h.getBasis(), 0, prices.size)]))
    h2.run()
    assert h2.getInfo().simplex_iteration_count == 0
    assert h2.getInfo().objective_function_value == pytest.approx(h.getInfo().objective_function_value)
    window, hw, (xw, sw, yw) = _store(prices[4:])
    hw.run()
    full, _, (x, s, y) = _store(prices)
    basis = full.basis_from([(window, hw.getBasis(), 4, 4)])
    col, row = (np.array([b.value for b in st]) for st in (basis.col_status, basis.row_status))
    wcol, wrow = (np.array([b.value for b in st]) for st in (hw.getBasis().col_status, hw.getBasis().row_status))
    for mine, theirs in ((x[4:], xw), (s[4:], sw), (y[2:], yw)):
        np.testing.assert_array_equal(col[mine], wcol[theirs])
    np.testing.assert_array_equal(row[[4, 5, 6, 7, 12, 13, 14, 15]], wrow)  # balance and headroom at steps 4-7
    assert (col[np.r_[x[:4], s[:4], y[:2]]] == 0).all() and (row[np.r_[0:4, 8:12]] == 1).all()  # lower, basic


def test_joint_horizon_from_windows_equals_the_cold_solve(monkeypatch):
    """Windows solved in sequence warm-start the period's model; HiGHS ends at the cold solve's optimum, also
    when the cycle budget is added after."""
    from agents.lp import horizon
    from bessgym.data import synthetic

    built = []

    class Counted(horizon.ActorLP):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            built.append(self.n_steps)

    market = synthetic.generate("2024-03-25", "2024-04-01", seed=3)  # 7 days with the spring DST day
    battery = IndexBattery().spec(power_mw=10.0)
    reserves = {"fcr": True, "afrr_capacity": True}
    cases = [(battery, LPProducts(day_ahead=True, **reserves), True),
             (battery, LPProducts(day_ahead=True, hourly_day_ahead=False, **reserves), False),
             (battery, LPProducts(day_ahead=False, intraday=True, **reserves), False),
             (dataclasses.replace(battery, max_cycles_per_day=0.25), LPProducts(day_ahead=True), False)]
    for b, products, hours in cases:
        cold = horizon.solve_horizon(market, b, products, hours=hours)
        monkeypatch.setattr(horizon, "ActorLP", Counted)
        built.clear()
        warm = horizon.solve_horizon(market, b, products, hours=hours, window_days=2)
        monkeypatch.undo()
        assert len(built) == 5 and built[0] == len(market) // (4 if hours else 1)  # the period and 4 windows
        assert warm.objective_eur == pytest.approx(cold.objective_eur, rel=1e-9)
    assert warm.discharge_mw.sum() * 0.25 == pytest.approx(7 * 0.25 * battery.usable_energy_mwh, rel=1e-6)
    with pytest.raises(ValueError, match="window_days must be at least 1, got 0"):
        horizon.solve_horizon(market, battery, LPProducts(day_ahead=True), window_days=0)


@pytest.mark.parametrize(("days", "rolling"), [(20, False), (365, False), (366, False), (420, True)])
def test_rolling_charts_draw_a_line_for_any_period(days, rolling):
    from experiments.plots import rolling_series

    dates = pd.date_range("2024-01-01", periods=days, freq="D").date
    daily = pd.DataFrame({"trading": np.linspace(100, 400, days), "fcr": np.full(days, 300.0)}, index=dates)
    title, series = rolling_series(daily, 365)
    assert list(series.columns) == ["trading", "fcr"]
    if rolling:  # 56 complete 365-day windows
        assert len(series) == days - 364 and "365-day rolling" in title
    else:  # one or two windows would be a dot or a stub: the running mean over every day instead
        assert len(series) == days and "running mean" in title
        assert series["fcr"].iloc[-1] == pytest.approx(300.0 * 365)
    thirty = rolling_series(daily, 30)[1]
    assert len(thirty) == (days - 29 if days - 29 >= 30 else days)


def test_rolling_horizon_lp_values_the_day_end_instead_of_pinning_it():
    """Planning today and tomorrow and executing today: the SoC at a day's end moves with tomorrow's prices (the
    daily LP pins it to the day's start), every day runs, and the last day of the table plans alone."""
    from agents.lp.delegate import DailyLPPolicy, run_policy
    from bessgym.data import synthetic
    from bessgym.envs import MarketConfig, SingleBESSEnv

    market = synthetic.generate("2024-06-10", "2024-06-14", seed=2)
    ends = {}
    for rolling in (False, True):
        env = SingleBESSEnv(market, episode_days=4, agent_stages=("delivery",), track_soh=False,
                            market_config=MarketConfig(products=frozenset({"intraday", "imbalance"})))
        policy = DailyLPPolicy("intraday", rolling=rolling)
        with env.runner.recording() as log:
            daily = run_policy(env, policy, seed=0, start_day="2024-06-10")
        soc = np.array([r["soc_mwh"][0] for r in log])
        ends[rolling] = soc[[95, 191, 287]]  # the ends of the first three days
        assert len(daily) == 4 and (daily["penalty"] == 0).all()
        assert len(policy.objectives) == 4
    assert np.allclose(ends[False], ends[False][0], atol=0.2)  # pinned to the start (10 MWh), up to the grid
    assert np.ptp(ends[True]) > 1.0  # rolling: the end follows tomorrow's prices
