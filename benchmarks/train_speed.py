"""PPO training throughput on a task (default intraday-2h; the co-located site: colocation-1-1-1): SB3's
DummyVecEnv of single envs (the default) against the native batched env (``train.batched_copies``), side by
side in one run, env steps per second of ``model.learn``.

    python benchmarks/train_speed.py [--steps 65536] [--task colocation-1-1-1]

Every variant learns with the PPO of ``agents.rl`` (network, learning rate, clipping); what changes is where
the steps come from and how the update is batched:

- ``dummy_8_envs``: today's default, 8 single envs, rollouts of 512 steps (4,096), minibatches of 256, 10 epochs;
- ``batched_8x16``: 8 groups of 16 copies, rollouts of 16,384 steps, PPO's minibatches and epochs as above;
- ``batched_16x32_fast``: 16 groups of 32 copies, rollouts of 16,384 steps, minibatches of 4,096, 2 epochs
  (the preset ``train.batched_copies: 32``, ``train.n_envs: 16`` with those hyperparameters);
- the last with 2 torch threads (both cores), and the default with 2 as well, for a fair comparison.

PPO's update dominates once the env is batched: its cost per step is epochs x (forward + backward) over the
minibatches, so fewer epochs of larger minibatches buy the speed; ``scripts/learning_report.py`` shows what it
costs in learning.
"""

from __future__ import annotations

import argparse
import time

FAST = {"batch_size": 4096, "n_epochs": 2}


def learn_steps_per_s(task: str, steps: int, *, batched: tuple[int, int] | None, threads: int = 1,
                      **ppo) -> float:
    import torch
    from stable_baselines3.common.vec_env import DummyVecEnv

    from agents.batched import batched_vec_env
    from agents.rl import build_model, normalized
    from bessgym.data.arrays import MarketArrays
    from experiments.evaluate import make_env, make_vector_env
    from experiments.tasks import task as find_task

    torch.set_num_threads(threads)
    config = find_task(task).config(0)
    market = MarketArrays.from_frame(config.train_market.load())
    if batched is None:
        base = DummyVecEnv([lambda: make_env(config, market, learner=True)] * 8)
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
    parser.add_argument("--task", default="intraday-2h", help="a battery's or a co-located site's task")
    args = parser.parse_args()
    t, n = args.task, args.steps
    results = {
        "dummy_8_envs": learn_steps_per_s(t, n, batched=None, n_steps=512),
        "dummy_8_envs_2_threads": learn_steps_per_s(t, n, batched=None, threads=2, n_steps=512),
        "batched_8x16": learn_steps_per_s(t, n, batched=(8, 16), n_steps=128),
        "batched_16x32_fast": learn_steps_per_s(t, n, batched=(16, 32), n_steps=32, **FAST),
        "batched_16x32_fast_2_threads": learn_steps_per_s(t, n, batched=(16, 32), threads=2, n_steps=32, **FAST),
    }
    base = results["dummy_8_envs"]
    for name, value in results.items():
        print(f"{name}: {value:,.0f} env steps/s ({value / base:.1f}x)")
    return results


if __name__ == "__main__":
    main()
