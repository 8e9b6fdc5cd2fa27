"""Checks of numeric parameters at the edge: a NaN or an infinity is refused with its name, never carried
into a run (a NaN compares False with every bound, so range checks alone let it through)."""

from __future__ import annotations

import math


def finite(owner: str, **values: float | None) -> None:
    """Raise a ValueError naming the first of ``values`` that is not a finite number (None is allowed)."""
    for name, value in values.items():
        if value is None:
            continue
        try:
            ok = math.isfinite(value)
        except TypeError:
            raise ValueError(f"{owner}.{name} must be a number, got {value!r}") from None
        if not ok:
            raise ValueError(f"{owner}.{name} must be a finite number, got {value!r}")
