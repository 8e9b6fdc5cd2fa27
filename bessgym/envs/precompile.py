"""Compile the envs' numba kernels into their on-disk cache: ``python -m bessgym.envs.precompile``.

The kernels are compiled on first use and cached beside their modules (``cache=True``), which costs about 15 s
per env kind the first time. ``make install`` runs this once, so that the first env, the first CLI call and the
test workers (which would otherwise each compile the same kernels at once) load them compiled. It steps every
registered env id and its batched form for one day of random actions on a small synthetic market.
"""

from __future__ import annotations

import time

import gymnasium as gym
import numpy as np


def precompile(seed: int = 0) -> list[str]:
    """Step each registered env (and each batched env of two copies) with random actions; return the ids."""
    import bessgym  # noqa: F401 (registers the ids)
    from bessgym.data import synthetic

    market = synthetic.generate("2024-06-20", "2024-06-22", seed=seed)
    ids = sorted(env_id for env_id in gym.registry if env_id.startswith("bessgym/"))
    for env_id in ids:
        spec = gym.spec(env_id)
        kinds = [gym.make(env_id, market=market, episode_days=1)]
        if spec.vector_entry_point is not None:
            kinds.append(gym.make_vec(env_id, num_envs=2, vectorization_mode="vector_entry_point", market=market,
                                      episode_days=1))
        for env in kinds:
            env.reset(seed=seed)
            if hasattr(env.unwrapped, "day_view"):  # what a policy asks of the day (compiled separately)
                env.unwrapped.day_view.trade_range(0)
            env.action_space.seed(seed)
            done = np.zeros(1, dtype=bool)
            while not done.all():
                _, _, terminated, truncated, _ = env.step(env.action_space.sample())
                done = np.logical_or(terminated, truncated)
            env.close()
    return ids


def main() -> None:
    start = time.perf_counter()
    ids = precompile()
    print(f"bessgym: kernels compiled and cached for {len(ids)} env ids in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
