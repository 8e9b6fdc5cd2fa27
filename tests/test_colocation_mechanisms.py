"""The co-location mechanisms, by hand. The day-ahead PV commitment frees the connection for aFRR up wherever the
capacity price pays (committed PV the battery does not need keeps producing, so the site loses nothing by it),
it is paid to the PV owner, and in delivery the committed PV keeps producing (the later correction). A physical
profile PPA: the battery's evening sale fills the profile and the shortfall bought falls by as much."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.colocation import SiteLPPolicy
from agents.lp.delegate import run_policy
from bessgym.assets import BatterySpec
from bessgym.assets.site import PayAsProducedPPA, ProfilePPA, SiteSpec
from bessgym.envs import MarketConfig
from bessgym.envs.colocated import CoLocatedPVBESSEnv
from bessgym.envs.site import COMMIT, CURTAIL
from tests.test_colocation import _flat_day

BATTERY = BatterySpec(power_mw=10, energy_mwh=20, eta_charge=0.95, eta_discharge=0.95, soc_min=0.1, soc_max=0.9)
# a PPA at 42 EUR/MWh; a curtailed MWh also loses 60 EUR/MWh elsewhere (e.g. a premium outside the PPA)
SITE = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=PayAsProducedPPA(42.0),
                curtailment_other_eur_mwh=60.0)
# aFRR capacity and a flat day-ahead price: nothing to trade, so the LP's only question is the reserve
CONFIG = MarketConfig(products=frozenset({"afrr_capacity", "day_ahead", "imbalance"}), ancillary_max_share=0.4)


def _afrr_day(pv_per_mwp: float, pos_price: float) -> pd.DataFrame:
    """A flat day (PV constant, DA 50, ID1 100 EUR/MWh) whose aFRR POS capacity pays ``pos_price`` EUR/MW/h
    from 12:00 to 16:00 local (block 3) and 1 EUR/MW/h otherwise, as does NEG."""
    df = _flat_day(pv_per_mwp)
    block3 = (df.index.tz_convert("Europe/Berlin").hour // 4 == 3)
    df["afrr_cap_pos_price"] = df["afrr_cap_pos_marginal"] = np.where(block3, pos_price, 1.0)
    df["afrr_cap_neg_price"] = df["afrr_cap_neg_marginal"] = 1.0  # every bid at the price clears
    return df


def test_the_joint_lp_commits_pv_wherever_the_capacity_pays_as_committed_pv_it_does_not_need_is_fed_in():
    """PV 8 MW all day behind a 10 MW connection leaves 2 MW for aFRR up; the battery may offer 4 MW (40 %).
    Committed PV the battery does not need (no activation here) is fed in after all: the site loses nothing, so
    the joint LP commits 2 MW of PV (a share of 0.25) in every block where aFRR up pays, at 100 EUR/MW/h in
    block 3 as at 1 EUR/MW/h elsewhere, and sells 4 MW: 4 x 100 x 4 h + 5 x 4 x 1 x 4 h = 1,680 EUR. The battery's
    side pays the PV owner 2 MW x 24 h x (42 + 60) = 4,896 EUR and gets back what the committed PV earned under
    the PPA, 2 x 24 x 42 = 2,016 EUR; the PV owner's other losses are 0 (nothing was curtailed). The site earns
    exactly the 2 MW x (100 x 4 + 5 x 4) = 840 EUR more than PV priority, which commits nothing; before, the
    joint LP charged every committed MWh the other losses (60 EUR/MWh), which the env never charges the site,
    and committed only in block 3."""
    env = CoLocatedPVBESSEnv(_afrr_day(0.8, 100.0), SITE, CONFIG, agent_stages=("capacity", "day_ahead",
                                                                                  "delivery"))
    cash = run_policy(env, SiteLPPolicy("joint"), seed=0).sum()
    day = env.simulator.day
    assert day.afrr_pos_mw[0] == pytest.approx([4, 4, 4, 4, 4, 4])
    assert cash["afrr_cap_pos"] == pytest.approx(4 * 100.0 * 4 + 5 * 4 * 1.0 * 4)
    assert cash["curtailment_payment"] == pytest.approx(-2 * 24 * 102)
    assert cash["pv_compensation"] == pytest.approx(2 * 24 * 102)
    assert cash["pv_ppa"] == pytest.approx(42 * (8 * 24 - 2 * 24))
    assert cash["committed_pv_sold"] == pytest.approx(2 * 24 * 42)
    assert cash["pv_other_losses"] == 0.0  # nothing was curtailed
    pv_first = CoLocatedPVBESSEnv(_afrr_day(0.8, 100.0), SITE, CONFIG,
                                  agent_stages=("capacity", "day_ahead", "delivery"))
    alone = run_policy(pv_first, SiteLPPolicy("pv_priority"), seed=0).sum()
    assert alone["afrr_cap_pos"] == pytest.approx(2 * 100.0 * 4 + 5 * 2 * 1.0 * 4)
    assert cash["total"] == pytest.approx(alone["total"] + 840.0)


def _committed_site(other_eur_mwh: float = 0.0) -> CoLocatedPVBESSEnv:
    """PV 10 MW all day at a 10 MW connection (no room for the battery's discharge), 0.2 of block 3's PV (2 MW)
    committed to the battery in the capacity stage; delivery from then on is the test's."""
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=PayAsProducedPPA(42.0),
                    curtailment_other_eur_mwh=other_eur_mwh)
    env = CoLocatedPVBESSEnv(_afrr_day(1.0, 0.0), site, CONFIG.__class__(products=frozenset({"intraday",
                                                                                              "imbalance"})),
                             agent_stages=("capacity", "delivery"))
    env.reset(seed=0)
    commit = np.zeros(env.action_space.shape, dtype=np.float32)
    commit[COMMIT + 3] = 0.2
    env.step(commit)
    assert env.simulator.committed_pv_mw[0, 48:64] == pytest.approx(2.0)  # 12:00-16:00 local
    assert env.simulator.day.up_cap[0, 47] == 0.0 and env.simulator.day.up_cap[0, 48] == pytest.approx(2.0)
    return env


def _deliver_at(env: CoLocatedPVBESSEnv, q: int, trade: float) -> dict:
    """Deliver with nothing until quarter-hour ``q``, then trade ``trade`` (a share of the room) there, PV first."""
    idle = np.zeros(env.action_space.shape, dtype=np.float32)
    idle[CURTAIL] = -1.0
    while env.unwrapped.decision_point[2] < q:
        env.step(idle)
    act = idle.copy()
    act[0] = trade
    _, _, _, _, info = env.step(act)
    return info


def test_committed_pv_is_curtailed_for_the_battery_or_charged_into_it_by_hand():
    """The three ways a committed quarter-hour can go (PV 10 MW, 2 MW committed, PPA 42, other losses 8,
    each 0.25 h): the battery discharges 2 MW into the committed room (PV curtailed to 8 MW, export 10 MW:
    2 x 0.25 x 8 = 4 EUR of other losses); it charges 2 MW from the excess instead of curtailing (PV keeps
    producing 10 MW, export 8 MW); it idles (all 10 MW fed in). The battery's side pays the PV owner
    2 x 0.25 x (42 + 8) = 25 EUR in every case, and where the committed 2 MW are fed in it gets what they earn
    under the PPA, 2 x 0.25 x 42 = 21 EUR; the PV owner keeps its 8 MW under the PPA."""
    for trade, power, pv_out, sold in ((1.0, 2.0, 8.0, 0.0), (-0.2, -2.0, 10.0, 2.0), (0.0, 0.0, 10.0, 2.0)):
        env = _committed_site(other_eur_mwh=8.0)
        info = _deliver_at(env, 50, trade)
        p, cash = info["physics"], info["cash_flow_eur"]
        close = lambda x: pytest.approx(x, abs=1e-5)  # noqa: E731  (float32 actions)
        assert p["power_mw"] == close(power) and p["pv_out_mw"] == close(pv_out)
        assert p["grid_export_mw"] == close(pv_out + power) and p["grid_export_mw"] <= 10.0 + 1e-9
        assert p["curtailed_for_battery_mw"] == close(0.0)  # only the committed PV gave way
        assert cash["curtailment_payment"] == close(-25.0) and cash["pv_compensation"] == close(25.0)
        assert cash["pv_other_losses"] == close(-(2 - sold) * 0.25 * 8)
        assert cash["pv_ppa"] == close(8 * 0.25 * 42)
        assert cash["committed_pv_sold"] == close(sold * 0.25 * 42)


def test_without_a_commitment_pv_first_leaves_the_battery_no_room_at_a_full_connection():
    """The same quarter-hour outside the committed block: PV takes the whole connection, the battery's sale
    is refused (its room is 0) and nothing is paid to the PV owner."""
    env = _committed_site()
    info = _deliver_at(env, 70, 1.0)  # 17:30 local: block 4, nothing committed
    assert info["physics"]["power_mw"] == pytest.approx(0.0) and info["physics"]["pv_out_mw"] == pytest.approx(10.0)
    assert info["cash_flow_eur"]["curtailment_payment"] == 0.0


@pytest.mark.parametrize("penalty", [None, 300.0])
def test_the_batterys_evening_sale_fills_the_profile_by_hand(penalty):
    """Profile 6 MW 08:00-20:00 at 72 EUR/MWh, PV 4 MW, ID1 100 EUR/MWh, fee f: at 19:00 PV is 2 MW short.
    The battery sells 3 MW intraday: 2 MW go into the profile (the shortfall bought falls from 2 MW to 0; the
    PV owner pays the battery the shortfall's price for them: 100, or the contract's penalty of 300), 1 MW
    reaches the exchange (1 x 0.25 x (100 - f)). Without the sale the PV owner buys 2 x 0.25 x price."""
    contract = ProfilePPA(6.0, 8, 20, 72.0, shortfall_price_eur_mwh=penalty)
    price = 100.0 if penalty is None else penalty
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=contract)
    config = MarketConfig(products=frozenset({"intraday", "imbalance"}))
    fee = config.intraday_fee_eur_mwh
    for sale, fill, exchange in ((0.5, 2.0, 1.0), (0.0, 0.0, 0.0)):  # half the 6 MW PV leaves: 3 MW
        env = CoLocatedPVBESSEnv(_flat_day(0.4), site, config, agent_stages=("delivery",))
        env.reset(seed=0)
        info = _deliver_at(env, 76, sale)  # 19:00 local
        p, cash = info["physics"], info["cash_flow_eur"]
        assert p["trade_mw"] == pytest.approx(3.0 if sale else 0.0, abs=1e-5)
        assert p["profile_fill_mw"] == pytest.approx(fill, abs=1e-5)
        assert p["profile_shortfall_mw"] == pytest.approx(2.0 - fill, abs=1e-5)
        assert cash["profile_fill"] == pytest.approx(fill * 0.25 * price, abs=1e-4)
        assert cash["intraday"] == pytest.approx(exchange * 0.25 * (100.0 - fee), abs=1e-4)
        assert cash["pv_ppa"] == pytest.approx(6 * 0.25 * 72)
        assert cash["pv_market"] == pytest.approx(-2 * 0.25 * price)  # the PV owner pays for the shortfall


def test_the_joint_lp_plans_the_profile_fill_and_the_env_pays_it():
    """Profile 6 MW 08:00-20:00 with a 300 EUR/MWh shortfall penalty, PV 4 MW, intraday at 100 EUR/MWh: the
    joint LP trading intraday buys outside the profile hours and sells into the 2 MW shortfall; the env
    delivers every planned MW into the profile and pays it at the penalty."""
    contract = ProfilePPA(6.0, 8, 20, 72.0, shortfall_price_eur_mwh=300.0)
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=contract)
    env = CoLocatedPVBESSEnv(_flat_day(0.4), site, MarketConfig(products=frozenset({"intraday", "imbalance"})),
                             agent_stages=("delivery",))
    policy = SiteLPPolicy("joint", wholesale="intraday")
    cash = run_policy(env, policy, seed=0).sum()
    planned = policy._plan[0].profile_fill_mw
    assert planned.sum() * 0.25 > 5.0 and (planned <= 2.0 + 1e-6).all()
    # the env rounds each trade onto the exchange's 0.1 MW grid before it fills: at most 0.1 MW a quarter-hour
    assert 0 <= planned.sum() * 0.25 * 300.0 - cash["profile_fill"] <= 0.1 * 0.25 * 300.0 * (planned > 0).sum()
    assert cash["profile_fill"] > 0.98 * planned.sum() * 0.25 * 300.0


def test_joint_operation_beats_bess_priority_where_the_battery_would_curtail_pv_worth_more_than_its_sale():
    """PV fills the 10 MW connection all day (PPA 42 EUR/MWh); day-ahead is 0 EUR/MWh before noon and 35 after.
    BESS priority plans the battery alone: it charges the 8 MWh its window has above the 50 % start (18 - 10 MWh)
    at 0 and sells them back, 8 x 0.95 = 7.6 MWh, at 35 EUR/MWh, curtailing as much PV that the PPA would have
    paid 42: the site loses 7.6 x (42 - 35) = 53.2 EUR. Joint operation sees that and leaves the battery idle,
    as PV priority does."""
    day = _flat_day(1.0)
    day["da_price"] = np.where(day.index.tz_convert("Europe/Berlin").hour < 12, 0.0, 35.0)
    site = SiteSpec(grid_limit_mw=10, pv_mwp=10, battery=BATTERY, contract=PayAsProducedPPA(42.0))
    config = MarketConfig(products=frozenset({"day_ahead", "imbalance"}))
    total = {}
    for mode in ("joint", "bess_priority", "pv_priority"):
        env = CoLocatedPVBESSEnv(day, site, config, agent_stages=("capacity", "day_ahead", "delivery"))
        cash = run_policy(env, SiteLPPolicy(mode), seed=0).sum()
        total[mode] = cash["total"]
        if mode == "bess_priority":
            assert cash["day_ahead"] == pytest.approx(7.6 * 35.0) and cash["pv_ppa"] == pytest.approx(42 * (240 - 7.6))
    assert total["joint"] == pytest.approx(42 * 240) == pytest.approx(total["pv_priority"])
    assert total["joint"] - total["bess_priority"] == pytest.approx(7.6 * (42 - 35))
