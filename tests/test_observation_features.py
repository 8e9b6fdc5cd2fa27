"""The optional observation features: appended after the plain observation (which stays the same), each equal
to what is computed by hand from the observation's own price windows and the clock."""

from __future__ import annotations

import numpy as np
import pytest

from bessgym.data import synthetic
from bessgym.data.arrays import MarketArrays
from bessgym.envs import SingleBESSEnv
from bessgym.envs.observation import N_FIXED, observation_size
from bessgym.envs.vector import BESSVectorEnv

FEATURES = ("relative_prices", "quantile_spreads", "time_to_gate")
H = 96


@pytest.fixture(scope="module")
def market() -> MarketArrays:
    return MarketArrays.from_frame(synthetic.generate("2024-01-08", "2024-01-11", seed=2))


def test_features_are_appended_and_match_the_windows_of_the_observation(market):
    plain = SingleBESSEnv(market, agent_stages=("delivery",), start_day="2024-01-09")
    rich = SingleBESSEnv(market, agent_stages=("delivery",), start_day="2024-01-09", observation_features=FEATURES)
    assert rich.observation_space.shape[0] == observation_size(H) + 10 == plain.observation_space.shape[0] + 10
    (o1, _), (o2, _) = plain.reset(seed=1), rich.reset(seed=1)
    rng = np.random.default_rng(0)
    for k in range(96):
        np.testing.assert_array_equal(o2[:observation_size(H)], o1)
        da, id1 = o2[N_FIXED + H:N_FIXED + 2 * H], o2[N_FIXED + 2 * H:N_FIXED + 3 * H]
        extra = o2[observation_size(H):]
        for j, window in enumerate((da, id1)):
            assert extra[j] == pytest.approx(np.clip((window[0] - window.mean()) / (window.std() + 1e-3), -10, 10),
                                             rel=1e-4, abs=1e-4)
        np.testing.assert_allclose(extra[2:7], id1[0] - np.quantile(id1, [0.1, 0.25, 0.5, 0.75, 0.9]), atol=1e-5)
        # a winter day: 10:00 and 12:00 local are quarter-hours 40 and 48
        np.testing.assert_allclose(extra[7:], np.array([96 - k, max(40 - k, 0), max(48 - k, 0)]) / 96, atol=1e-6)
        action = rng.uniform(-1, 1, size=rich.action_space.shape).astype(np.float32)
        o1, r1, *_ = plain.step(action)
        o2, r2, *_ = rich.step(action)
        assert r1 == r2


def test_the_vector_env_and_the_config_carry_the_features(market):
    from experiments.config import ExperimentConfig
    from experiments.evaluate import make_env, make_vector_env

    vector = BESSVectorEnv(3, market, observation_features=["time_to_gate"])
    obs, _ = vector.reset(seed=0)
    assert obs.shape == (3, observation_size(H) + 3)
    config = ExperimentConfig().with_overrides({"env.observation_features": ["quantile_spreads"]})
    assert make_env(config, market).observation_space.shape == (observation_size(H) + 5,)
    assert make_vector_env(config, market, 2).single_observation_space.shape == (observation_size(H) + 5,)


def test_an_unknown_feature_is_refused_by_name(market):
    with pytest.raises(ValueError, match=r"observation_features \['spreads'\]: each at most once, from "
                                         r"\['relative_prices', 'quantile_spreads', 'time_to_gate'\]"):
        SingleBESSEnv(market, observation_features=("spreads",))
