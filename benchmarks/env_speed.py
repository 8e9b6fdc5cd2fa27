"""Env throughput: SingleBESS (all markets, random policy, one core) and the batched vector env.

    python benchmarks/env_speed.py [--steps 20000] [--vector-envs 1024] [--vector-steps 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def single_env_steps_per_s(steps: int) -> float:
    from bessgym.envs import SingleBESSEnv

    env = SingleBESSEnv(episode_days=30, track_soh=False)
    env.reset(seed=0)
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, env.action_space.shape[0])).astype(np.float32)
    t0 = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i])
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def vector_env_steps_per_s(num_envs: int, steps: int) -> float:
    from bessgym.envs.vector import BESSVectorEnv

    env = BESSVectorEnv(num_envs=num_envs, episode_days=30)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (8, *env.action_space.shape)).astype(np.float32)
    t0 = time.perf_counter()
    for i in range(steps):
        env.step(actions[i % 8])
    return steps * num_envs / (time.perf_counter() - t0)


def main() -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--vector-envs", type=int, default=1024)
    parser.add_argument("--vector-steps", type=int, default=2_000)
    args = parser.parse_args()
    results = {"single_env_steps_per_s": single_env_steps_per_s(args.steps)}
    try:
        results["vector_env_steps_per_s"] = vector_env_steps_per_s(args.vector_envs, args.vector_steps)
    except ImportError:
        pass
    for k, v in results.items():
        print(f"{k:<28} {v:>14,.0f}")
    return results


if __name__ == "__main__":
    main()
