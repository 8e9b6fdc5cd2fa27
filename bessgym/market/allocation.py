"""Allocating a portfolio's revenue back to its assets.

- Pro rata: the total shared by a weight such as power (:func:`pro_rata`).
- By contribution: each asset's own settlement in the portfolio (what ``Portfolio-v1`` reports in
  ``info["asset_cash_eur"]``); it sums to the portfolio's cash flow by construction.
- Shapley value: the average marginal value an asset adds over all orders in which the portfolio could have
  been formed, ``phi_i = sum_S |S|! (n-|S|-1)! / n! (v(S + i) - v(S))``. It is the only allocation that sums
  to v(all) (efficiency), treats interchangeable assets alike (symmetry), gives an asset that adds nothing
  nothing (null player), and adds up over games (additivity). Exact (:func:`shapley`, 2^n values) up to
  :data:`MAX_SHAPLEY_ASSETS`; beyond, :func:`sampled_shapley` averages marginal values over random orders and
  states its standard error.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import numpy as np

MAX_SHAPLEY_ASSETS = 12


def shapley(value: Callable[[frozenset[int]], float], n: int) -> np.ndarray:
    """Exact Shapley values of the n-player game ``value`` (called once per coalition, with v(empty) too)."""
    if not 1 <= n <= MAX_SHAPLEY_ASSETS:
        raise ValueError(f"exact Shapley values need 1 <= n <= {MAX_SHAPLEY_ASSETS} assets, got {n}")
    v = {frozenset(c): float(value(frozenset(c))) for k in range(n + 1) for c in itertools.combinations(range(n), k)}
    phi = np.zeros(n)
    for coalition, worth in v.items():
        weight = math.factorial(len(coalition)) * math.factorial(n - len(coalition) - 1) / math.factorial(n) \
            if len(coalition) < n else 0.0
        for i in range(n):
            if i not in coalition:
                phi[i] += weight * (v[coalition | {i}] - worth)
    return phi


def pro_rata(total: float, weights: np.ndarray) -> np.ndarray:
    """``total`` shared in proportion to ``weights`` (>= 0, not all 0)."""
    w = np.asarray(weights, dtype=float)
    if (w < 0).any() or w.sum() <= 0:
        raise ValueError(f"pro-rata weights must be >= 0 and not all 0, got {w.tolist()}")
    return total * w / w.sum()


def sampled_shapley(value: Callable[[frozenset[int]], float], n: int, orders: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Shapley values estimated over ``orders`` random orders of the n players, and their standard errors:
    each order adds the players one by one and credits each with the value it adds. Coalitions are valued
    once (a cache), so orders that meet again cost nothing. Each order's credits sum to v(all), so the
    estimate is efficient exactly."""
    if n < 1 or orders < 2:
        raise ValueError(f"sampled Shapley values need n >= 1 and orders >= 2, got n={n}, orders={orders}")
    cache: dict[frozenset[int], float] = {}

    def v(coalition: frozenset[int]) -> float:
        if coalition not in cache:
            cache[coalition] = float(value(coalition))
        return cache[coalition]

    credit = np.zeros((orders, n))
    for k in range(orders):
        coalition: frozenset[int] = frozenset()
        for i in rng.permutation(n):
            joined = coalition | {int(i)}
            credit[k, i] = v(joined) - v(coalition)
            coalition = joined
    return credit.mean(axis=0), credit.std(axis=0, ddof=1) / np.sqrt(orders)
