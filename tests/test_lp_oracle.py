"""The array-built battery LP (the one definition every baseline uses) against its pyomo statement
(agents.lp.reference), an independently written model of the same equations: equal optima over products,
sites in each operating mode (with the PV committed to the battery), negative prices with binaries, whole-MW
reserves, held capacity called where its energy offer clears, fixed awards and re-solves that keep omitted
parameters."""

from __future__ import annotations

import numpy as np
import pytest

from agents.lp.model import BatteryLP
from agents.lp.reference import PyomoBatteryLP
from agents.lp.terms import LPProducts, SiteTerms
from bessgym.assets import BatterySpec

N_QH = 24
BLOCKS = np.repeat(np.arange(3), 8)
BATTERY = BatterySpec(power_mw=4.0, energy_mwh=6.0, eta_charge=0.93, eta_discharge=0.95, soc_min=0.1, soc_max=0.9,
                      soc_initial=0.4, max_cycles_per_day=1.5, aux_power_mw=0.02, degradation_cost_eur_mwh=3.0)
RESERVES = {"fcr": True, "afrr_capacity": True, "fcr_hold_h": 0.5, "ancillary_max_share": 0.8, "fcr_max_share": 0.6}
CASES = {
    "hourly_day_ahead": (LPProducts(), None),
    "quarter_hour_day_ahead_reserves": (LPProducts(hourly_day_ahead=False, **RESERVES), None),
    "intraday_fee_whole_mw_reserves": (LPProducts(day_ahead=False, intraday=True, intraday_fee_eur_mwh=0.5,
                                                  integer_reserves=True, **RESERVES), None),
    "negative_prices_binaries": (LPProducts(hourly_day_ahead=False, exclusive_charge=True, **RESERVES), None),
    "site_joint": (LPProducts(**RESERVES), SiteTerms(3.0, mode="joint")),
    "site_pv_priority": (LPProducts(**RESERVES), SiteTerms(3.0, mode="pv_priority")),
    "site_joint_other_losses": (LPProducts(**RESERVES), SiteTerms(3.0, mode="joint", curtailment_other_eur_mwh=4.0)),
    "site_bess_priority_green": (LPProducts(**RESERVES), SiteTerms(3.0, green_only=True, mode="bess_priority")),
    "site_green_joint_intraday": (LPProducts(day_ahead=False, intraday=True, intraday_fee_eur_mwh=0.2),
                                  SiteTerms(5.0, green_only=True, mode="joint")),
    "mfrr_beside_afrr": (LPProducts(hourly_day_ahead=False, mfrr_capacity=True, mfrr_hold_h=0.75, **RESERVES), None),
    "site_mfrr_joint": (LPProducts(mfrr_capacity=True, mfrr_hold_h=0.5, **RESERVES),
                        SiteTerms(5.0, mode="joint")),
    "site_profile_filled_intraday": (LPProducts(day_ahead=False, intraday=True, intraday_fee_eur_mwh=0.2),
                                     SiteTerms(5.0, mode="joint")),
    "intraday_around_held_positions": (LPProducts(day_ahead=False, intraday=True, intraday_fee_eur_mwh=0.3,
                                                  mfrr_capacity=True, **RESERVES), None),
}


def _parameters(rng: np.random.Generator, negative: bool) -> dict:
    low = -40.0 if negative else 5.0
    pv = np.clip(np.sin(np.linspace(0, np.pi, N_QH)) * 4.5 + rng.normal(0, 0.3, N_QH), 0.0, None)
    return {"price_da": rng.uniform(low, 150.0, N_QH), "price_id": rng.uniform(low, 160.0, N_QH),
            "price_fcr": rng.uniform(5, 25, N_QH), "price_pos": rng.uniform(0, 20, N_QH),
            "price_neg": rng.uniform(0, 15, N_QH), "price_mpos": rng.uniform(0, 20, N_QH),
            "price_mneg": rng.uniform(0, 9, N_QH), "soc0_mwh": 2.4, "soc_end_mwh": (2.0, 3.0),
            "max_discharge_mwh": 6.0, "pv_forecast_mw": pv, "pv_value_eur_mwh": rng.uniform(20, 80, N_QH)}


def _called(rng: np.random.Generator) -> dict:
    """Held capacity called in a fifth of the steps (shares of aFRR POS, NEG, mFRR POS, NEG) at energy prices
    that pay (POS above, NEG below the day-ahead range)."""
    share = rng.uniform(0.1, 1.0, (4, N_QH)) * (rng.random((4, N_QH)) < 0.2)
    return {"called_share": share, "price_energy_pos": rng.uniform(150, 600, N_QH),
            "price_energy_neg": rng.uniform(-300, 0, N_QH), "price_energy_mpos": rng.uniform(150, 600, N_QH),
            "price_energy_mneg": rng.uniform(-300, 0, N_QH)}


def _called_net_mw(result, share: np.ndarray | None) -> np.ndarray:
    """The called power up minus down [MW] per step of a solved schedule."""
    if share is None:
        return np.zeros(N_QH)
    held = [getattr(result, name)[BLOCKS] for name in ("afrr_pos_mw", "afrr_neg_mw", "mfrr_pos_mw", "mfrr_neg_mw")]
    return share[0] * held[0] - share[1] * held[1] + share[2] * held[2] - share[3] * held[3]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("seed", range(2))
def test_array_model_equals_its_pyomo_statement(case, seed):
    products, site = CASES[case]
    rng = np.random.default_rng(seed)
    arrays = BatteryLP(BATTERY, products, N_QH, blocks=BLOCKS, site=site)
    pyomo = PyomoBatteryLP(BATTERY, products, N_QH, blocks=BLOCKS, site=site)
    parameters = _parameters(rng, negative=case == "negative_prices_binaries")
    if site is None:
        parameters = {k: v for k, v in parameters.items() if not k.startswith("pv_")}
    if case == "site_profile_filled_intraday":  # a 3 MW profile PPA over most of the day, short at its edges
        parameters.update(profile_mw=np.r_[np.zeros(4), np.full(16, 3.0), np.zeros(4)],
                          price_shortfall=np.full(N_QH, 250.0))
    if case == "intraday_around_held_positions":  # a schedule an earlier auction sold and bought: 1 MW each way
        parameters["held_mw"] = np.r_[np.full(8, -1.0), np.zeros(8), np.full(8, 1.0)]
    if products.afrr_capacity and seed == 1:  # the held capacity's energy called where its offer clears
        parameters.update(_called(rng))
    mine, oracle = arrays.solve(**parameters), pyomo.solve(**parameters)
    assert mine.objective_eur == pytest.approx(oracle.objective_eur, rel=1e-6, abs=1e-6)
    # the schedule is feasible in the oracle's terms: power, SoC window, end state, budget
    assert (mine.soc_mwh >= 0.6 - 1e-6).all() and (mine.soc_mwh <= 5.4 + 1e-6).all()
    assert 2.0 - 1e-6 <= mine.soc_mwh[-1] <= 3.0 + 1e-6
    assert mine.discharge_mw.sum() * 0.25 <= 6.0 + 1e-6
    held = parameters.get("held_mw", 0.0)
    assert np.allclose(mine.discharge_mw - mine.charge_mw, held + mine.day_ahead_mw + mine.intraday_mw
                       + mine.profile_fill_mw + _called_net_mw(mine, parameters.get("called_share")), atol=1e-6)
    if "called_share" in parameters:  # the case tests something: held capacity is called
        assert np.abs(_called_net_mw(mine, parameters["called_share"])).sum() > 1.0
    if "mfrr" in case:  # the case tests something: mFRR is held
        assert (mine.mfrr_pos_mw + mine.mfrr_neg_mw).sum() > 0
    if case in ("site_joint", "site_bess_priority_green") and seed == 0:  # PV committed to the battery
        assert mine.pv_commitment_share.max() > 0.05
    if case == "site_pv_priority":
        assert (mine.pv_commitment_share == 0).all()
    if case == "site_profile_filled_intraday":  # the battery fills the profile where PV leaves it short
        pv_short = np.maximum(parameters["profile_mw"] - parameters["pv_forecast_mw"], 0.0)
        assert mine.profile_fill_mw.sum() > 1.0 and (mine.profile_fill_mw <= pv_short + 1e-6).all()
    if products.integer_reserves:
        assert np.allclose(mine.fcr_mw, np.round(mine.fcr_mw), atol=1e-6)
    if products.exclusive_charge:
        assert (np.minimum(mine.charge_mw, mine.discharge_mw) < 1e-6).all()
    assert (mine.pv_out_mw is None) == (oracle.pv_out_mw is None)
    # a re-solve with new prices keeps the other parameters; awards fixed, then freed again
    prices = {"price_da": parameters["price_da"][::-1].copy(), "price_id": parameters["price_id"][::-1].copy()}
    again = arrays.solve(**prices)
    assert again.objective_eur == pytest.approx(pyomo.solve(**prices).objective_eur, rel=1e-6)
    if products.fcr:
        # awards below the plan's (in whole MW, as the env awards) stay feasible: less reserve only frees room
        award = [np.floor(getattr(mine, name) + 1e-6) for name in ("fcr_mw", "afrr_pos_mw", "afrr_neg_mw",
                                                                     "mfrr_pos_mw", "mfrr_neg_mw")]
        fixed = arrays.solve(fixed_reserves=award)
        assert fixed.objective_eur == pytest.approx(pyomo.solve(fixed_reserves=award).objective_eur, rel=1e-6,
                                                    abs=1e-6)
        assert np.allclose(fixed.fcr_mw, award[0]) and np.allclose(fixed.afrr_neg_mw, award[2])
        free = arrays.solve()  # fixed for that solve only: free again
        assert free.objective_eur == pytest.approx(again.objective_eur, rel=1e-6)
        assert free.objective_eur >= fixed.objective_eur - 1e-6
        assert arrays.value() == pytest.approx(pyomo.value(), rel=1e-6)


def test_unknown_parameter_is_named():
    with pytest.raises(TypeError, match="price_dayahead"):
        BatteryLP(BATTERY, LPProducts(), N_QH, blocks=BLOCKS).solve(price_dayahead=np.zeros(N_QH))
    with pytest.raises(ValueError, match="price_da"):
        BatteryLP(BATTERY, LPProducts(), N_QH, blocks=BLOCKS).solve(price_da=np.zeros(N_QH + 1))


def test_each_day_of_a_longer_plan_keeps_its_own_discharge_budget():
    days = (96, 96)
    blocks = np.concatenate([np.repeat(np.arange(6), 16), np.repeat(np.arange(6, 12), 16)])
    lp = BatteryLP(BATTERY, LPProducts(hourly_day_ahead=False), 192, blocks=blocks, budget_days=days)
    prices = np.tile(np.r_[np.zeros(48), np.full(48, 100.0)], 2)
    plan = lp.solve(price_da=prices, soc0_mwh=2.4, soc_end_mwh=(0.6, 5.4), max_discharge_mwh=[0.0, 3.0])
    assert plan.discharge_mw[:96].sum() * 0.25 == pytest.approx(0.0, abs=1e-9)  # nothing left today
    assert plan.discharge_mw[96:].sum() * 0.25 == pytest.approx(3.0, abs=1e-6)  # tomorrow's own budget, used
    with pytest.raises(ValueError, match="budget_days"):
        BatteryLP(BATTERY, LPProducts(), 192, blocks=blocks, budget_days=(96, 95))


def test_an_end_state_out_of_reach_is_missed_by_the_least_and_costs_no_revenue():
    """No market open: the battery can only idle (or waste energy charging and discharging at once), and its
    0.02 MW of auxiliaries take 0.12 MWh over the 24 quarter-hours. A plan from 2.4 MWh cannot end at 2.4 MWh
    (HiGHS once reported "Infeasible"): it ends at 2.28 MWh, 0.12 MWh short, and earns nothing. With day-ahead
    open, it buys back the 0.12 MWh / 0.93 in the cheapest hour and ends on target."""
    for model in (BatteryLP, PyomoBatteryLP):
        closed = model(BATTERY, LPProducts(day_ahead=False), N_QH, blocks=BLOCKS)
        plan = closed.solve(soc0_mwh=2.4, soc_end_mwh=(2.4, 2.4), max_discharge_mwh=6.0)
        assert plan.end_miss_mwh == pytest.approx(0.12, abs=1e-6), model.__name__
        assert plan.soc_mwh[-1] == pytest.approx(2.28, abs=1e-6)
        assert plan.objective_eur == pytest.approx(0.0, abs=1e-6) and closed.value() == pytest.approx(0.0, abs=1e-6)
        prices = np.r_[np.full(4, 50.0), np.full(4, 20.0), np.full(16, 80.0)]  # 20 EUR/MWh in the second hour
        plan = model(BATTERY, LPProducts(), N_QH, blocks=BLOCKS).solve(
            price_da=prices, soc0_mwh=2.4, soc_end_mwh=(2.4, 2.4), max_discharge_mwh=0.0)
        assert plan.end_miss_mwh == pytest.approx(0.0, abs=1e-9) and plan.soc_mwh[-1] == pytest.approx(2.4)
        assert plan.objective_eur == pytest.approx(-0.12 / 0.93 * 20.0, rel=1e-6)


def test_a_held_schedule_out_of_reach_is_delivered_as_far_as_physics_allows():
    """A schedule already sold: 4 MW all 24 quarter-hours (24 MWh), from 2.4 MWh with the floor at 0.6 MWh and
    0.12 MWh of auxiliaries. The battery can deliver (2.4 - 0.6 - 0.12) x 0.95 = 1.596 MWh; the plan misses the
    rest, 22.404 MWh, and reports it, instead of HiGHS reporting "Infeasible" (as the env's 0.1 MW rounding of a
    schedule once made the multi-market methodology do)."""
    held = np.full(N_QH, 4.0)
    for model in (BatteryLP, PyomoBatteryLP):
        plan = model(BATTERY, LPProducts(day_ahead=False), N_QH, blocks=BLOCKS).solve(
            held_mw=held, soc0_mwh=2.4, soc_end_mwh=(0.6, 5.4), max_discharge_mwh=6.0)
        assert plan.held_miss_mw.sum() * 0.25 == pytest.approx(24.0 - 1.596, abs=1e-6), model.__name__
        assert (plan.discharge_mw - plan.charge_mw).sum() * 0.25 == pytest.approx(1.596, abs=1e-6)
        assert plan.soc_mwh[-1] == pytest.approx(0.6, abs=1e-6) and plan.end_miss_mwh == pytest.approx(0.0, abs=1e-9)
