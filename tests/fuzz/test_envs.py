"""Our own fuzz suite: every registered env id stepped through a delivery day with random, extreme and
saturating actions under hypothesis (bounded: a few examples per id, under a minute in all). Each step must keep
the envelope every env promises (:func:`bessgym.envs.envelope.violations`). The longer run is
``benchmarks/fuzz.py``."""

from __future__ import annotations

from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bessgym  # noqa: F401  (registers the ids)
from bessgym.envs.envelope import Before, before_step, violations
from bessgym.envs.portfolio_core import Reliability

ENV_IDS = sorted(k for k in gym.registry if k.startswith("bessgym/"))


def actions(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Uniform, all at one bound or zero, or a bound or zero per entry (the corners the clipping must hold);
    drawn from a seed, so that hypothesis draws two numbers a step, whatever the action's width."""
    n = int(np.prod(shape))
    kinds = {"uniform": lambda rng: rng.uniform(-1, 1, n),
             "corners": lambda rng: rng.choice([-1.0, 0.0, 1.0], n),
             "constant": lambda rng: np.full(n, rng.choice([-1.0, 0.0, 1.0]))}
    return st.tuples(st.sampled_from(sorted(kinds)), st.integers(0, 2**32 - 1)).map(
        lambda k: kinds[k[0]](np.random.default_rng(k[1])).astype(np.float32).reshape(shape))


OUTAGES = {"reliability": Reliability(mtbf_h=24.0, mttr_h=4.0)}  # about half of a portfolio's steps with an outage


@pytest.mark.parametrize(("env_id", "kwargs"), [(i, {}) for i in ENV_IDS]
                         + [(i, OUTAGES) for i in ENV_IDS if "Portfolio" in i])
@settings(max_examples=4, deadline=None, derandomize=True)
@given(data=st.data())
def test_any_actions_keep_the_envelope(env_id, kwargs, data):
    """Also the portfolios with frequent outages: re-dispatch keeps the portfolio's envelope (its docstring)."""
    env = gym.make(env_id, start_day="2024-06-20", **kwargs).unwrapped
    obs, info = env.reset(seed=data.draw(st.integers(0, 3)))
    draw = actions(env.action_space.shape)
    truncated = terminated = False
    while not (truncated or terminated):
        before = before_step(env, info)
        obs, reward, terminated, truncated, info = env.step(data.draw(draw))
        assert violations(env, obs, reward, info, before) == []


def test_the_checks_name_what_broke():
    env = gym.make("bessgym/SingleBESSIntraday-v1", start_day="2024-06-20").unwrapped
    _, info = env.reset(seed=0)
    before = before_step(env, info)
    obs, reward, _, _, info = env.step(np.ones(env.action_space.shape, np.float32))
    assert violations(env, obs, reward, info, before) == []
    phys, fleet = info["physics"], env.day_view.fleet
    high = dict(info, physics={**phys, "soc_mwh": fleet.soc_max_mwh + 0.1})
    assert any(v.startswith("SoC") for v in violations(env, obs, reward, high))
    assert any(v.startswith("cash flows") for v in violations(env, obs, reward + 1.0, info))
    assert violations(env, obs * np.nan, reward, info)[0] == "observation outside its space"
    # as if the day's budget was spent before this sale, which nothing forced
    spent = np.asarray(env.day_view.discharged_mwh, float) - 0.5
    unforced = Before(spent, spent.copy(), np.full(1, -10.0), np.zeros(1))
    assert any(v.startswith("cycle limit") for v in violations(env, obs, reward, info, unforced))
    forced = Before(spent, spent.copy(), np.full(1, 2.0), np.zeros(1))  # the band required 2 MW: allowed
    assert violations(env, obs, reward, info, forced) == []
    # as if the reserves needed a full battery: the sale went the other way with 10 MW of charge free
    full = replace(before, band_mwh=(fleet.soc_max_mwh, fleet.soc_max_mwh), free_mw=(np.zeros(1), np.full(1, 10.0)))
    assert any(v.startswith("reserve headroom") for v in violations(env, obs, reward, info, full))
    # as if they needed an empty one: the sale goes towards it, short of the free power, then at all of it
    empty = replace(before, band_mwh=(fleet.soc_min_mwh, fleet.soc_min_mwh), free_mw=(phys["schedule_mw"] + 1.0,
                                                                                     np.zeros(1)))
    assert any(v.startswith("reserve headroom") for v in violations(env, obs, reward, info, empty))
    assert violations(env, obs, reward, info, replace(empty, free_mw=(phys["schedule_mw"], np.zeros(1)))) == []
    # penalties with the battery at 1 MW, no schedule and the SoC mid-window, where the reserves held fit
    assert (before.held_mwh[0] < 8.0).all() and (before.held_mw[0] < 9.0).all()
    idle = {**phys, "power_mw": np.ones(1), "schedule_mw": np.zeros(1), "soc_mwh": phys["soc_before_mwh"]}
    short = dict(info, physics={**idle, "undelivered_mwh": np.full(1, 0.2), "unavailable_mw": np.ones(1)})
    found = violations(env, obs, reward, short, before)
    assert any(v.startswith("non-delivery penalty") for v in found)
    assert any(v.startswith("reserve unavailable") for v in found)
