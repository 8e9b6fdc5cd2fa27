"""Named action and observation entries (bessgym.envs.layout), generated from the reserve products table: each
name reads what it says in every registered env, a product added to the table gets its entries, and
``bessgym env describe`` prints them."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

import bessgym  # noqa: F401  (registers the ids)
from bessgym.envs.layout import CAPACITY, DELIVERY, capacity_layout, delivery_layout
from bessgym.envs.observation import observation_layout
from bessgym.market.reserves import RESERVES, UP, ReserveProduct
from experiments.cli import app

ENV_IDS = sorted(k for k in gym.registry if k.startswith("bessgym/"))


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_observation_entries_read_what_they_name(env_id):
    env = gym.make(env_id, start_day="2024-06-20").unwrapped
    obs, info = env.reset(seed=0)
    layout = env.observation_layout
    assert layout.size == env.observation_space.shape[0]
    f = env.day_view.fleet
    weights = f.power_mw / f.power_mw.sum()  # a pooled portfolio observes power-weighted averages
    usable = f.soc_max_mwh - f.soc_min_mwh
    assert obs[layout.soc] == pytest.approx(weights @ ((env.day_view.soc_mwh - f.soc_min_mwh) / usable), rel=1e-6)
    assert obs[layout.stage].tolist() == [float(s == info["stage"]) for s in
                                          ("capacity", "day_ahead", "ida1", "ida2", "ida3", "delivery")]


def test_delivery_entries_act_as_named_and_reserves_held_are_observed():
    env = gym.make("bessgym/SingleBESS-v1", start_day="2024-06-20").unwrapped
    env.reset(seed=0)
    capacity = np.zeros((len(CAPACITY), 6), np.float32)
    capacity[CAPACITY.mfrr_pos_volume] = 0.5  # half the room left, at the forecast price
    action = np.zeros(env.action_space.shape, np.float32)
    action[:capacity.size] = capacity.ravel()
    obs, *_, info = env.step(action)
    while info["stage"] != "delivery":
        obs, *_, info = env.step(np.zeros(env.action_space.shape, np.float32))
    held = env.day_view.mfrr_pos_mw[0, env.day_view.block[info["quarter_hour"]]]
    assert held > 0 and obs[env.observation_layout.mfrr_pos_held] == pytest.approx(held / 10.0)
    sell = np.zeros(env.action_space.shape, np.float32)
    sell[env.action_layout("delivery").intraday_trade] = 1.0
    *_, info = env.step(sell)
    assert info["physics"]["trade_mw"] > 0


def test_a_product_added_to_the_table_gets_its_entries():
    """A product defined only here (a symmetric capacity market, pay-as-bid, energy paid): a volume and a price
    row in the capacity action, an energy offer at delivery, a held and a price entry in the observation's
    table order; the shipped products keep their positions."""
    extra = ReserveProduct("cm", "capacity market", UP, "capacity_market", "pay_as_bid", "cm_price",
                           "cm_marginal", "cm_activation", "cm_energy_price")
    capacity, delivery = capacity_layout((*RESERVES, extra)), delivery_layout((*RESERVES, extra))
    assert [e.name for e in capacity.entries][-2:] == ["cm_volume", "cm_price"] and capacity.size == 11
    assert delivery.cm_offer == len(DELIVERY) and delivery.mfrr_neg_offer == DELIVERY.mfrr_neg_offer
    assert capacity.mfrr_neg_price == CAPACITY.mfrr_neg_price == 8
    with pytest.raises(AttributeError, match="no entry 'cm_volume'; entries: fcr_volume"):
        _ = CAPACITY.cm_volume


def test_observation_layout_counts_the_optional_features():
    plain, featured = observation_layout(4), observation_layout(4, ("time_to_gate", "relative_prices"))
    assert featured.size == plain.size + 5
    assert [e.name for e in featured.entries][-2:] == ["relative_prices", "time_to_gate"]  # the table's order


def test_env_describe_prints_each_stage_and_the_observation():
    result = CliRunner().invoke(app, ["env", "describe", "bessgym/SingleBESS-v1"])
    text = " ".join(result.output.split())
    assert result.exit_code == 0, text
    assert "action at day_ahead, ida1, ida2, ida3" in text and "mfrr_pos_offer │ 7" in text
    assert "mfrr_cap_neg_price │ 331:337" in text and "observation: Box(337,)" in text


def test_a_v0_id_names_its_v1():
    """mFRR widened every env's action and observation under -v0; the ids are -v1 now."""
    from gymnasium.error import DeprecatedEnv

    with pytest.raises(DeprecatedEnv, match="Please use `bessgym/SingleBESS-v1` instead"):
        gym.make("bessgym/SingleBESS-v0")
    result = CliRunner().invoke(app, ["env", "describe", "bessgym/Portfolio-v0"])
    assert result.exit_code == 2 and "it is bessgym/Portfolio-v1 now" in result.output


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_each_stage_layout_covers_the_whole_stage_action(env_id):
    env = gym.make(env_id).unwrapped
    for stage in env.runner.agent_stages:
        assert env.action_layout(stage).size == env.simulator.action_width[stage]  # a site's PV entries too


def test_a_sites_pv_entries_are_named_and_act():
    """The co-located site's capacity action ends with the PV commitment per block, its delivery action with
    the curtailment: curtailing all PV at a sunny noon quarter-hour by name curtails it."""
    env = gym.make("bessgym/CoLocatedPVBESS-v1", start_day="2024-06-20").unwrapped
    assert env.action_layout("capacity").pv_commitment == slice(54, 60)
    _, info = env.reset(seed=0)
    while not (info["stage"] == "delivery" and env.day_view.local_hour[info["quarter_hour"]] == 12):
        *_, info = env.step(np.zeros(env.action_space.shape, np.float32))
    curtail = np.zeros(env.action_space.shape, np.float32)
    curtail[env.action_layout("delivery").pv_curtailment] = 1.0
    *_, info = env.step(curtail)
    assert info["physics"]["pv_available_mw"] > 0.1
    assert info["physics"]["curtailed_mw"] == pytest.approx(info["physics"]["pv_available_mw"])
