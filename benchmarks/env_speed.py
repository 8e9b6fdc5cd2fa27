"""Env throughput: SingleBESS and CoLocatedPVBESS (all markets, random policy, one core) and their batched
vector envs.

    python benchmarks/env_speed.py [--steps 20000] [--vector-envs 1024] [--vector-steps 2000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def single_env_steps_per_s(steps: int, colocated: bool = False, **kwargs) -> float:
    from bessgym.envs import CoLocatedPVBESSEnv, SingleBESSEnv

    env = CoLocatedPVBESSEnv(episode_days=30, **kwargs) if colocated else SingleBESSEnv(episode_days=30,
                                                                                        track_soh=False, **kwargs)
    return random_steps_per_s(env, steps)


def random_steps_per_s(env, steps: int) -> float:
    """Steps per second of ``env`` under uniform random actions (drawn before the clock starts), resetting
    at episode end. A warm-up day runs first: the compiled kernels load (or compile) on their first call."""
    actions = np.random.default_rng(0).uniform(-1, 1, (steps, env.action_space.shape[0])).astype(np.float32)
    env.reset(seed=0)
    for i in range(min(steps, 120)):
        if any(env.step(actions[i])[2:4]):
            break
    env.reset(seed=0)
    t0 = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i])
        if terminated or truncated:
            env.reset()
    return steps / (time.perf_counter() - t0)


def vector_env_steps_per_s(num_envs: int, steps: int, colocated: bool = False) -> float:
    from bessgym.envs.colocated import CoLocatedVectorEnv
    from bessgym.envs.vector import BESSVectorEnv

    env = (CoLocatedVectorEnv if colocated else BESSVectorEnv)(num_envs=num_envs, episode_days=30)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = rng.uniform(-1, 1, (8, *env.action_space.shape)).astype(np.float32)
    for i in range(120):  # warm-up: the kernels' first calls
        env.step(actions[i % 8])
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
    # best of 3: the least disturbed run on a shared machine
    results = {
        "single_env_steps_per_s": max(single_env_steps_per_s(args.steps) for _ in range(3)),
        "single_env_intraday_only_steps_per_s": max(
            single_env_steps_per_s(args.steps, agent_stages=("delivery",)) for _ in range(3)),
        "colocated_env_steps_per_s": max(single_env_steps_per_s(args.steps, colocated=True) for _ in range(3)),
        f"vector_env_{args.vector_envs}_steps_per_s": max(
            vector_env_steps_per_s(args.vector_envs, args.vector_steps) for _ in range(3)),
        f"colocated_vector_env_{args.vector_envs}_steps_per_s": max(
            vector_env_steps_per_s(args.vector_envs, args.vector_steps, colocated=True) for _ in range(3)),
    }
    for k, v in results.items():
        print(f"{k:<40} {v:>14,.0f}")
    return results


if __name__ == "__main__":
    main()
