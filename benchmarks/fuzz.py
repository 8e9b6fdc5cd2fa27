"""The fuzz suite's long run: every registered env id stepped for ``--seconds`` each with random, extreme and
saturating actions (a new kind and seed each day, episodes over the synthetic year), every step checked by
:func:`bessgym.envs.envelope.violations`. Prints steps, days and violations per env id; exits 1 on any.

    python benchmarks/fuzz.py --seconds 240
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter

import gymnasium as gym
import numpy as np

import bessgym  # noqa: F401  (registers the ids)
from bessgym.envs.envelope import before_step, violations

KINDS = ("uniform", "corners", "constant")


def action(kind: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    n = int(np.prod(shape))
    values = {"uniform": lambda: rng.uniform(-1, 1, n), "corners": lambda: rng.choice([-1.0, 0.0, 1.0], n),
              "constant": lambda: np.full(n, rng.choice([-1.0, 0.0, 1.0]))}[kind]()
    return values.astype(np.float32).reshape(shape)


def fuzz(env_id: str, seconds: float, seed: int) -> tuple[int, int, Counter]:
    """Steps and days run on ``env_id`` for ``seconds``, and the violations found (by message head)."""
    rng = np.random.default_rng(seed)
    env = gym.make(env_id).unwrapped  # random start days over the synthetic year
    steps = days = 0
    found: Counter = Counter()
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        _, info = env.reset(seed=int(rng.integers(2**31)))
        kind, done = KINDS[days % len(KINDS)], False
        while not done:
            before = before_step(env, info)
            obs, reward, terminated, truncated, info = env.step(action(kind, rng, env.action_space.shape))
            found.update(v.split(":")[0] for v in violations(env, obs, reward, info, before))
            steps, done = steps + 1, terminated or truncated
        days += 1
    return steps, days, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=240.0, help="per env id")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    total = 0
    for env_id in sorted(k for k in gym.registry if k.startswith("bessgym/")):
        steps, days, found = fuzz(env_id, args.seconds, args.seed)
        total += sum(found.values())
        print(f"{env_id:32s} {steps:8d} steps {days:5d} episodes  violations: {sum(found.values())}"
              + "".join(f"\n    {n} x {what}" for what, n in found.most_common()), flush=True)
    sys.exit(1 if total else 0)


if __name__ == "__main__":
    main()
