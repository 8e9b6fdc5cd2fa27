"""PPO training throughput on intraday-2h: SB3's DummyVecEnv of single envs (the default) against the native
batched env (``train.batched_copies``), side by side in one run, env steps per second of ``model.learn``.

    python benchmarks/train_speed.py [--steps 65536] [--groups 8] [--copies 16]

Both learn with the same PPO (defaults of ``agents.rl``, but the rollout): the default collects 512 steps from
8 envs (4,096 a rollout); the batched one ``4096 * 4 / (groups x copies)`` steps from each of its envs
(16,384 a rollout), and the same with the default's rollout length and larger minibatches, to show where the
time goes: collecting or learning.
"""

from __future__ import annotations

import argparse
import time


def learn_steps_per_s(steps: int, *, batched: tuple[int, int] | None, **ppo) -> float:
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.batched import batched_vec_env
    from agents.rl import build_model, normalized
    from bessgym.envs.core import MarketArrays
    from experiments.config import ExperimentConfig
    from experiments.evaluate import make_env, make_vector_env

    torch.set_num_threads(1)
    config = ExperimentConfig()
    market = MarketArrays.from_frame(config.train_market.load())
    if batched is None:
        base = DummyVecEnv([lambda: make_env(config, market)] * 8)
    else:
        groups, copies = batched
        base = batched_vec_env(lambda k: make_vector_env(config, market, copies), groups)
    model = build_model("ppo", normalized(base, seed=0), seed=0, **ppo)
    model.learn(base.num_envs * ppo["n_steps"])  # warm-up: the kernels' first calls, torch's first passes
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - t0)


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=65_536)
    parser.add_argument("--groups", type=int, default=8)
    parser.add_argument("--copies", type=int, default=16)
    args = parser.parse_args()
    envs = args.groups * args.copies
    shape = (args.groups, args.copies)
    results = {
        "dummy_8_envs": learn_steps_per_s(args.steps, batched=None, n_steps=512),
        f"batched_{envs}_envs": learn_steps_per_s(args.steps, batched=shape, n_steps=max(16384 // envs, 1)),
        f"batched_{envs}_envs_batch_2048_epochs_4": learn_steps_per_s(
            args.steps, batched=shape, n_steps=max(16384 // envs, 1), batch_size=2048, n_epochs=4),
    }
    base = results["dummy_8_envs"]
    for name, value in results.items():
        print(f"{name}: {value:,.0f} env steps/s ({value / base:.1f}x)")
    return results


if __name__ == "__main__":
    main()
