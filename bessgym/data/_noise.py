"""Stochastic building blocks shared by the synthetic generators (vectorised, seeded by the caller)."""

from __future__ import annotations

import numpy as np


def ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    """A stationary, unit-variance AR(1) path of length ``n``: y_t = phi y_{t-1} + sqrt(1 - phi^2) e_t."""
    eps = rng.standard_normal(n)
    x = np.sqrt(1.0 - phi**2) * eps
    x[0] = eps[0]  # start in the stationary distribution
    from scipy.signal import lfilter  # here: importing scipy.signal takes ~1 s, and most imports never call this

    return lfilter([1.0], [1.0, -phi], x)
