"""Imitation beyond the Gaussian clone: a categorical (MaskablePPO) clone takes the LP's levels; DAgger: an
expert labels the states another agent reaches, and DAgger fits the clone to the re-planning expert's labels in
the states the clone itself reaches."""

from __future__ import annotations

import numpy as np
import pytest

from agents.base import Idle
from agents.imitation import clone, dagger, demonstrations
from agents.rl import RLAgent, build_model, make_vec_env
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from experiments.config import ConfigError, ExperimentConfig
from experiments.evaluate import make_agent, make_env

SOC = 6  # the observation's SoC entry, after the stage's one-hot


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-08", seed=1))


def test_the_expert_labels_the_states_the_acting_agent_reaches(market):
    """Idle acts: nothing is earned and the SoC stays where it was; the LP's actions there are the labels."""
    config = ExperimentConfig()
    expert = make_agent("rolling_intrinsic", config)
    demos = demonstrations(lambda: make_env(config, market), Idle(), 2, expert=expert)
    assert len(demos.actions) == 2 * 96 and demos.ends.sum() == 2
    assert np.all(demos.rewards == 0.0)  # the idle battery's days
    np.testing.assert_allclose(demos.observations[:, SOC], demos.observations[0, SOC])
    assert (np.abs(demos.actions[:, 0]) > 0.5).sum() >= 8  # the expert would trade from there


def test_a_categorical_clone_takes_the_lps_levels_where_the_gaussian_clone_averages(market):
    """The LP trades bang-bang; cloned on the same days, MaskablePPO's levels hit its actions (within one level)
    far more often than PPO's mean, which answers small trades between the modes."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.masked import DiscreteActions
    from agents.rl import normalized

    config = ExperimentConfig()
    make = lambda: make_env(config, market)  # noqa: E731
    demos = demonstrations(make, make_agent("lp", config), 4)
    lp = demos.actions[:, 0]
    assert np.mean((np.abs(lp) < 0.05) | (np.abs(lp) > 0.95)) > 0.9  # bang-bang
    hits = {}
    for algorithm in ("ppo", "maskable_ppo"):
        wrap = (lambda: DiscreteActions(make(), 21)) if algorithm == "maskable_ppo" else make
        venv = normalized(DummyVecEnv([wrap]), seed=0)
        model = build_model(algorithm, venv, seed=0, n_steps=64, batch_size=64)
        losses = clone(model, venv, demos.observations, demos.actions, epochs=60, batch_size=64)
        assert losses[-1] < 0.1 * losses[0]
        agent = RLAgent(model, venv, algorithm=algorithm)
        taken = np.array([agent.act(o, {"action_mask": np.ones(9, bool)})[0] for o in demos.observations])
        hits[algorithm] = np.mean(np.abs(taken - lp) <= 0.05 + 1e-6)
    assert hits["maskable_ppo"] > 0.9 and hits["maskable_ppo"] > hits["ppo"] + 0.1  # 0.97 and 0.79 measured


def test_dagger_fits_the_expert_where_the_clone_goes(market):
    config = ExperimentConfig()
    make = lambda: make_env(config, market)  # noqa: E731
    demos = demonstrations(make, make_agent("lp", config), 2)
    venv = make_vec_env(make, 1, seed=0)
    model = build_model("ppo", venv, seed=0, n_steps=64, batch_size=64)
    clone(model, venv, demos.observations, demos.actions, epochs=10)
    rounds = dagger(model, venv, make, make_agent("rolling_intrinsic", config), demos, rounds=2, episodes=1,
                    epochs=30)
    assert [len(r.labels) for r in rounds] == [96, 96]
    agent = RLAgent(model, venv, algorithm="ppo")
    for r in rounds:  # each round's states, labelled before the clone learned them, are fitted now
        after = np.mean([np.abs(agent.act(o, {}) - a).max() for o, a in zip(r.observations, r.labels, strict=True)])
        assert after < 0.7 * r.gap


def test_dagger_needs_a_clone_and_one_battery_trading_intraday(tmp_path, market):
    from experiments.train import _clone

    with pytest.raises(ValueError, match="set clone_from too"):
        ExperimentConfig().with_overrides({"train.dagger_rounds": 1})
    config = ExperimentConfig().with_overrides({"train.clone_from": "lp", "train.dagger_rounds": 1,
                                                "env.kind": "colocated"})
    with pytest.raises(ConfigError, match="env.kind is 'colocated'"):
        _clone(config, market, None, None, print)
