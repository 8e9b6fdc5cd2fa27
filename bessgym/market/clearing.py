"""Price-taker clearing rules (vectorised).

A sell offer is accepted when its price is at or below the clearing price, a buy offer when at or above.
Pay-as-cleared pays the clearing price, pay-as-bid the offer's own price. Volumes are rounded down to the
product's increment and dropped below its minimum.
"""

from __future__ import annotations

import math

import numpy as np
from numba import boolean, float64, vectorize


@vectorize([boolean(float64, float64)], cache=True)
def accepted_sell(offer_price, clearing_price):
    """Sell (supply) offers accepted by a clearing price."""
    return offer_price <= clearing_price


@vectorize([boolean(float64, float64)], cache=True)
def accepted_buy(offer_price, clearing_price):
    """Buy (demand) offers accepted by a clearing price."""
    return offer_price >= clearing_price


def settlement_price(offer_price: np.ndarray, clearing_price: np.ndarray, *, pay_as_bid: bool) -> np.ndarray:
    """Price an accepted offer is paid."""
    return offer_price if pay_as_bid else clearing_price


# Actions arrive as float32 (the action space's dtype): 0.9 x 10 MW is 8.9999998 MW. Rounding down to an
# increment must not lose a whole step to that, so volumes within 1e-5 of a step below a grid point count as on it.
GRID_TOLERANCE = 1e-5


@vectorize([float64(float64, float64, float64)], cache=True)
def round_volume(volume_mw, min_mw, step_mw):
    """Round |volume| down to the increment; volumes below the minimum become 0 (sign kept). A numpy ufunc
    that the step kernels also call on scalars."""
    magnitude = math.floor(abs(volume_mw) / step_mw + GRID_TOLERANCE) * step_mw
    if min_mw > step_mw and magnitude < min_mw - 1e-9:  # a minimum above the increment drops small volumes
        magnitude = 0.0
    return math.copysign(magnitude, volume_mw)
