"""The action codec: decoding what a policy encoded gives back its decision, for every stage."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bessgym.envs import MarketConfig
from bessgym.envs.codec import ActionCodec, energy_offer_eur_mwh, trade_mw

CODEC = ActionCodec(MarketConfig(fcr_max_share=0.8, ancillary_max_share=0.9))


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 5))
def test_decoding_an_encoded_decision_gives_it_back(seed, n):
    rng = np.random.default_rng(seed)
    power = rng.uniform(0.5, 10, n)
    room_up, room_down = power[:, None] * rng.uniform(0.3, 0.9, (n, 6)), power[:, None] * rng.uniform(0.3, 0.9, (n, 6))
    fcr = np.minimum(rng.uniform(0, 0.8, (n, 6)) * power[:, None], np.minimum(room_up, room_down)) * rng.integers(0, 2)
    pos, neg = rng.uniform(0, 1, (n, 6)) * (room_up - fcr), rng.uniform(0, 1, (n, 6)) * (room_down - fcr)
    mpos, mneg = rng.uniform(0, 1, (n, 6)) * (room_up - fcr - pos), rng.uniform(0, 1, (n, 6)) * (room_down - fcr - neg)
    action = CODEC.capacity_action([fcr, pos, neg, mpos, mneg], power, room_up, room_down)
    assert action.shape == (n, 54) and np.abs(action).max() <= 1
    for decoded, planned in zip(CODEC.capacity_volumes(action, power, room_up, room_down),
                                (fcr, pos, neg, mpos, mneg), strict=True):
        np.testing.assert_allclose(decoded, planned, atol=1e-9)

    up, down = rng.uniform(0, 10, (n, 96)), rng.uniform(0, 10, (n, 96))
    change = np.where(rng.random((n, 96)) < 0.5, up, -down) * rng.uniform(0, 1, (n, 96))
    np.testing.assert_allclose(CODEC.position_change(CODEC.auction_action(change, up, down), up, down), change,
                               atol=1e-9)

    sell, buy = rng.uniform(0, 5, n), rng.uniform(0, 5, n)
    trade = np.where(rng.random(n) < 0.5, sell, -buy) * rng.uniform(0, 1, n)
    a = CODEC.delivery_action(trade, sell, buy, hold_energy_offers=True)
    np.testing.assert_allclose([trade_mw(a[i, 0], sell[i], buy[i]) for i in range(n)], trade, atol=1e-9)
    assert energy_offer_eur_mwh(a[0, 1], 80.0, 250.0, 15e3) == 330.0
    assert energy_offer_eur_mwh(a[0, 2], 80.0, 250.0, 15e3) == -170.0
    assert energy_offer_eur_mwh(a[0, 7], 80.0, 250.0, 15e3) == 330.0  # the mFRR capacity's offers, held too
    assert energy_offer_eur_mwh(a[0, 8], 80.0, 250.0, 15e3) == -170.0
    assert energy_offer_eur_mwh(1.0, 80.0, 30e3, 15e3) == 15e3  # within the price limits


def test_volumes_outside_their_room_are_clipped_and_products_off_decode_to_nothing():
    power, room = np.array([10.0]), np.full((1, 6), 9.0)
    action = CODEC.capacity_action([np.full((1, 6), 20.0), 0.0, 0.0, 0.0, 0.0], power, room, room)
    assert CODEC.capacity_volumes(action, power, room, room)[0] == pytest.approx(np.full((1, 6), 8.0))  # 0.8 x 10
    off = ActionCodec(MarketConfig(products=frozenset({"day_ahead", "afrr_capacity"})))
    fcr, pos, _, mpos, _ = off.capacity_volumes(np.ones((1, 54)), power, room, room)
    assert (fcr == 0).all() and pos == pytest.approx(np.full((1, 6), 9.0)) and (mpos == 0).all()
    offers = CODEC.capacity_prices(np.full((1, 54), -1.0), *(np.full((1, 6), p) for p in (10.0, 4.0, 6.0, 2.0)))
    assert [o[0, 0] for o in offers] == pytest.approx([5.0, 2.0, 3.0, 1.0])


def test_nearest_capacity_volumes_round_to_the_closest_step_inside_the_room():
    """A 1 MW battery's aFRR POS room of 1 MW and NEG room of 0.8 MW (a site's connection), on a 1 MW grid: an
    action of 0.6 offers 1 MW, 0.4 nothing; NEG's room holds no whole MW, so even a full action offers nothing."""
    codec = ActionCodec(MarketConfig(products=frozenset({"afrr_capacity", "intraday"})))
    power, up, down = np.array([1.0]), np.full((1, 6), 1.0), np.full((1, 6), 0.8)
    action = np.zeros((1, 9, 6))
    action[0, 1] = [0.6, 0.4, 0.5, 1.0, 0.0, 0.49]  # afrr_pos_volume per block
    action[0, 2] = 1.0  # afrr_neg_volume
    _, pos, neg, _, _ = codec.capacity_volumes(action.reshape(1, -1), power, up, down, nearest_step_mw=1.0)
    np.testing.assert_array_equal(pos, [[1.0, 0.0, 1.0, 1.0, 0.0, 0.0]])  # half a step rounds up
    np.testing.assert_array_equal(neg, 0.0)
    _, down_pos, *_ = codec.capacity_volumes(action.reshape(1, -1), power, up, down)  # rounded down by the env
    np.testing.assert_allclose(down_pos, [[0.6, 0.4, 0.5, 1.0, 0.0, 0.49]])
