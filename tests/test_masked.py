"""MaskablePPO on the env's action mask: the discretised action and its mask follow the stage, MaskablePPO
trains end to end on single and batched envs (never choosing what the mask forbids), exports to ONNX with equal
actions, and the export deploys in a dry run."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pandas as pd
import pytest

from agents.masked import DiscreteActions, discrete_mask, values
from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from experiments.config import ExperimentConfig
from experiments.evaluate import make_env
from experiments.tasks import MULTIMARKET

SMALL = {"train_market.end": "2024-01-08", "eval_market.start": "2025-03-03", "eval_market.end": "2025-03-06",
         "train.algorithm": "maskable_ppo", "train.action_levels": 5, "train.total_steps": 512, "train.n_envs": 2,
         "train.eval_every_steps": 512, "train.eval_days": 1, "train.checkpoint_every_steps": 512,
         "train.hyperparameters": {"n_steps": 256, "batch_size": 128, "n_epochs": 2}, "evaluate.days": 2,
         "name": "test-masked"}


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2025-03-01", "2025-03-04", seed=1))


def test_the_discrete_mask_allows_every_level_where_an_entry_counts_and_only_zero_elsewhere(market):
    assert values(5).tolist() == [-1.0, -0.5, 0.0, 0.5, 1.0]
    mask = discrete_mask(np.array([True, False]), 5)
    assert mask.tolist() == [True] * 5 + [False, False, True, False, False]
    with pytest.raises(ValueError, match="odd"):
        values(4)
    env = DiscreteActions(make_env(ExperimentConfig().with_overrides(MULTIMARKET), market), levels=5)
    obs, info = env.reset(seed=0)
    assert info["stage"] == "capacity"
    counts = info["action_mask"]
    assert counts[:6].all() and counts.sum() < len(counts)  # FCR blocks count; day-ahead entries do not yet
    np.testing.assert_array_equal(env.action_masks().reshape(-1, 5)[:, 2], True)
    np.testing.assert_array_equal(env.action_masks().reshape(-1, 5)[:, 0], counts)
    assert env.action(np.full(len(counts), 2)).tolist() == [0.0] * len(counts)
    _, _, _, _, info = env.step(np.full(len(counts), 2))
    assert info["stage"] == "day_ahead"
    np.testing.assert_array_equal(env.action_masks().reshape(-1, 5)[:, 0], info["action_mask"])


def test_maskable_ppo_trains_exports_to_onnx_with_equal_actions_and_deploys_in_dry_run(tmp_path, tracking):
    from agents.rl import OnnxAgent, RLAgent
    from bessgym.control.modbus import DryRunController
    from bessgym.control.runner import ControlLoop
    from bessgym.control.safety import AuditLog, SafetyLayer, SafetyLimits
    from experiments.deploy import EnvPolicy, load_policy_agent
    from experiments.train import train

    config = ExperimentConfig().with_overrides({**SMALL, **MULTIMARKET})
    result = train(config, tmp_path / "train")
    assert result.steps >= 512 and result.evaluations  # one rollout and update: the test is the plumbing
    agent, exported = RLAgent.load(result.model_dir), OnnxAgent(result.model_dir / "policy.onnx")
    env = make_env(config, MarketArrays.from_frame(synthetic.generate("2025-03-03", "2025-03-05", seed=1)))
    obs, info = env.reset(seed=3)
    stages, done = set(), False
    while not done:
        action = agent.act(obs, info)
        np.testing.assert_array_equal(exported.act(obs, info), action)
        assert set(np.unique(action)) <= set(values(5).tolist())
        assert (action[~info["action_mask"]] == 0).all()
        stages.add(info["stage"])
        obs, _, terminated, truncated, info = env.step(action)
        done = terminated or truncated
    assert {"capacity", "day_ahead", "delivery"} <= stages

    today = dt.datetime.now(dt.UTC).date()
    live = MarketArrays.from_frame(synthetic.generate(today - dt.timedelta(days=1), today + dt.timedelta(days=2)))
    onnx_agent, loaded = load_policy_agent(result.model_dir / "policy.onnx")
    assert loaded == config
    policy = EnvPolicy(onnx_agent, config, live, device_power_w=1e6)
    safety = SafetyLayer(DryRunController(), SafetyLimits(max_charge_w=1e6, max_discharge_w=1e6),
                         AuditLog(tmp_path / "audit.csv"), cycle_s=0.01)
    rows = asyncio.run(ControlLoop(policy, safety, cycle_s=0.01).run(cycles=4))
    assert [r.action for r in rows] == ["sent"] * 4 + ["released"]
    assert pd.read_csv(tmp_path / "audit.csv")["action"].tolist() == [r.action for r in rows]


def test_maskable_ppo_on_the_batched_env_never_takes_a_masked_level(tmp_path):
    from agents.rl import build_model
    from experiments.train import _training_env

    config = ExperimentConfig().with_overrides({**SMALL, **MULTIMARKET, "train.batched_copies": 2})
    train_market = MarketArrays.from_frame(config.train_market.load())
    venv = _training_env(config, train_market, None)
    model = build_model("maskable_ppo", venv, seed=0, n_steps=128, batch_size=64)
    model.learn(512)
    buffer = model.rollout_buffer
    masks = buffer.action_masks.astype(bool).reshape(-1, buffer.action_masks.shape[-1] // 5, 5)
    actions = buffer.actions.reshape(-1, masks.shape[1]).astype(int)
    chosen = np.take_along_axis(masks, actions[:, :, None], axis=2)[:, :, 0]
    assert chosen.all()  # every level taken was allowed
    assert (~masks[:, :, 0]).any() and masks[:, :, 0].any()  # and the mask varied with the stage
