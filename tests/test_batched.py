"""Training on the native batched env: the SB3 VecEnv over BESSVectorEnv and CoLocatedVectorEnv gives the
transitions of single envs for the same seeds and actions, through the auto-reset at the day's end, and PPO
trains on it end to end."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.batched import BatchedVecEnv, batched_vec_env
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from experiments.config import ConfigError, ExperimentConfig
from experiments.evaluate import make_env, make_vector_env


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-08", seed=1))


def _rollout(venv, actions: np.ndarray, seed: int):
    venv.seed(seed)
    out = [venv.reset()]
    for a in actions:
        venv.step_async(a)
        obs, rewards, dones, infos = venv.step_wait()
        finals = [info.get("terminal_observation") for info in infos]
        truncated = [info.get("TimeLimit.truncated") for info in infos]
        out.append((obs, rewards, dones, finals, truncated))
    return out


def _same(a, b) -> None:
    np.testing.assert_allclose(a[0], b[0], rtol=1e-6, atol=1e-6)
    for (o1, r1, d1, f1, t1), (o2, r2, d2, f2, t2) in zip(a[1:], b[1:], strict=True):
        np.testing.assert_allclose(o1, o2, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(r1, r2, rtol=1e-6, atol=1e-4)
        np.testing.assert_array_equal(d1, d2)
        assert t1 == t2
        for x, y in zip(f1, f2, strict=True):
            assert (x is None) == (y is None)
            if x is not None:
                np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-6)


# the main job's intraday battery, and a co-located site in the multi-market stages (reserves, auctions, PV);
# with the agent's decisions a day
KINDS = {"single": ({}, 96), "colocated": ({"env.kind": "colocated",
                                            "env.agent_stages": ["capacity", "day_ahead", "ida1", "delivery"]}, 99)}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("forecast", ["perfect", "noisy"])
def test_batched_groups_step_like_single_envs_through_the_auto_reset(market, forecast, kind):
    """Groups of one copy: each draws its own days and noise (prices, PV) from its seed, as a single env does."""
    overrides, day = KINDS[kind]
    config = ExperimentConfig().with_overrides({"env.forecast": forecast, **overrides})
    single = DummyVecEnv([lambda: make_env(config, market)] * 3)
    steps, width = 2 * day + 10, single.action_space.shape[0]  # past two day ends (each a random new day)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, 3, width)).astype(np.float32)
    batched = batched_vec_env(lambda k: make_vector_env(config, market, 1), 3)
    a, b = _rollout(single, actions, seed=7), _rollout(batched, actions, seed=7)
    assert sum(d.sum() for _, _, d, _, _ in a[1:]) == 2 * 3  # both day ends were crossed
    _same(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_copies_of_a_group_share_the_day_and_step_like_single_envs_on_it(market, kind):
    """A group of three copies in lock-step on a fixed day equals three single envs on that day."""
    config = ExperimentConfig().with_overrides(KINDS[kind][0])
    single = DummyVecEnv([lambda: make_env(config, market, start_day="2025-03-04")] * 3)
    width = single.action_space.shape[0]
    actions = np.random.default_rng(1).uniform(-1, 1, (120, 3, width)).astype(np.float32)
    batched = BatchedVecEnv([make_vector_env(config, market, 3, start_day="2025-03-04")])
    _same(_rollout(single, actions, seed=0), _rollout(batched, actions, seed=0))


def test_ppo_trains_on_the_batched_env_and_the_config_guards_its_kind(tmp_path, market):
    from agents.rl import build_model, normalized

    config = ExperimentConfig().with_overrides({"train.batched_copies": 4, "train.n_envs": 2})
    venv = normalized(batched_vec_env(lambda k: make_vector_env(config, market, 4), 2), seed=0)
    assert venv.num_envs == 8
    model = build_model("ppo", venv, seed=0, n_steps=64, batch_size=128)
    model.learn(1024)
    assert model.num_timesteps == 1024
    assert len(model.ep_info_buffer) == 8  # VecMonitor saw every copy's day end (128 steps each, a day 96)
    with pytest.raises(ConfigError, match="env.kind is 'portfolio'"):
        make_vector_env(config.with_overrides({"env.kind": "portfolio"}), market, 2)


def test_behaviour_cloning_fits_the_lp_and_exports_to_onnx(tmp_path, market):
    """Cloning the LP's actions lowers the loss and moves the policy towards them; the cloned agent exports to
    ONNX with the same actions."""
    from agents.base import DelegateAgent
    from agents.imitation import Demonstrations, clone, demonstrations, warm_up_critic
    from agents.lp.delegate import DailyLPPolicy
    from agents.rl import RLAgent, build_model, make_vec_env
    from experiments.deploy import load_policy_agent

    config = ExperimentConfig()
    observations, actions, rewards, ends = demonstrations(lambda: make_env(config, market), DelegateAgent(
        DailyLPPolicy("intraday"), name="lp"), episodes=3)
    assert ends.sum() == 3 and ends[-1] and rewards.sum() > 0  # three days, and the LP earns
    assert len(observations) == len(actions) == 3 * 96 and np.abs(actions).max() <= 1.0
    venv = make_vec_env(lambda: make_env(config, market), 2, seed=0)
    model = build_model("ppo", venv, seed=0, n_steps=64, batch_size=64)
    agent = RLAgent(model, venv, algorithm="ppo")
    before = np.mean([(agent.act(o, {})[0] - a[0]) ** 2 for o, a in zip(observations, actions, strict=True)])
    losses = clone(model, venv, observations, actions, epochs=30)
    after = np.mean([(agent.act(o, {})[0] - a[0]) ** 2 for o, a in zip(observations, actions, strict=True)])
    assert losses[-1] < 0.5 * losses[0] and after < 0.5 * before
    critic = warm_up_critic(model, venv, Demonstrations(observations, actions, rewards, ends), epochs=30)
    assert critic[-1] < 0.5 * critic[0]  # the value function learned the LP's discounted returns
    model.learn(128)  # fine-tuned with RL from there
    folder = agent.save(tmp_path / "run" / "model")
    agent.export_onnx(folder / "policy.onnx")
    onnx_agent, _ = load_policy_agent(folder / "policy.onnx")
    for o in observations[::37]:
        np.testing.assert_allclose(onnx_agent.act(o, {}), agent.act(o, {}), atol=1e-4)
    with pytest.raises(ValueError, match="clone_from"):
        config.with_overrides({"train.algorithm": "sac", "train.clone_from": "lp"})
