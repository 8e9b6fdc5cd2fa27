"""Pay-as-bid capacity bids formed from forecasts of the auction's marginal price.

aFRR and mFRR capacity are paid as bid: an offer is accepted where it is at or below the block's marginal price
(the highest accepted bid) and is then paid its own price. With perfect foresight the best offer is the marginal
price itself. A bidder who forecasts the marginal price m with relative error sigma (the forecast is
m (1 + sigma e), e ~ N(0, 1)) offers k x the forecast, k < 1: a higher offer is paid more if accepted but is
rejected more often. Expected pay per MW and hour of an offer b on forecast f is b x P(m >= b) =
b x Phi((f / b - 1) / sigma); :func:`shade` is the k that maximises it (0.85 at sigma = 10 %, for 81 % of the
marginal price). Offers are settled on the realised marginal price, so forecast error costs what it costs.

The codec prices an offer as the forecast average price x (1 + band x a), a in [-1, 1], so no offer is above
(1 + band) x the forecast average (:class:`~bessgym.market.config.MarketConfig.capacity_price_band`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy.special import ndtr

# an offer this share under the (forecast) marginal price: the rounding of an action sent as float32 (about 3e-8
# of the offer) must not reject it
MARGIN = 1e-6


@lru_cache(maxsize=16)
def shade(sigma: float) -> float:
    """The share k of a forecast marginal price to offer at relative forecast error ``sigma`` [-] (1 for 0)."""
    if sigma <= 0:
        return 1.0 - MARGIN
    k = np.linspace(0.3, 1.0, 7001)
    return float(k[np.argmax(k * ndtr((1.0 / k - 1.0) / sigma))])


def capacity_offers(marginal_eur: np.ndarray, average_eur: np.ndarray, band: float,
                    sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Offer prices and their expected pay [EUR/MW/h] for forecast marginal and average prices (same shape).

    The offer is ``shade(sigma)`` x the forecast marginal price, at most (1 + ``band``) x the forecast average
    (the codec's highest); its expected pay is the offer x the probability that the marginal price reaches it.
    """
    marginal = np.maximum(np.nan_to_num(marginal_eur), 0.0)
    offer = np.minimum(shade(sigma) * marginal, (1.0 + band) * np.maximum(np.nan_to_num(average_eur), 0.0))
    if sigma <= 0:
        return offer, offer
    ratio = np.divide(marginal, offer, out=np.zeros_like(offer), where=offer > 0)
    return offer, offer * ndtr((ratio - 1.0) / sigma)
