"""Allocating a portfolio's revenue back to its assets.

- By contribution: each asset's own settlement in the portfolio (what ``Portfolio-v0`` reports in
  ``info["asset_cash_eur"]``); it sums to the portfolio's cash flow by construction.
- Shapley value: the average marginal value an asset adds over all orders in which the portfolio could have
  been formed, ``phi_i = sum_S |S|! (n-|S|-1)! / n! (v(S + i) - v(S))``. It is the only allocation that sums
  to v(all) (efficiency), treats interchangeable assets alike (symmetry), gives an asset that adds nothing
  nothing (null player), and adds up over games (additivity). Exact, so for small portfolios (2^n values).
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
