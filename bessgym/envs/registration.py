"""Registered environment ids (entry points are strings, so registering imports no env code).

The ``-v0`` ids are gone: mFRR widened their actions and observations. Gymnasium answers ``gym.make`` of one
with ``DeprecatedEnv`` naming the ``-v1`` id."""

from __future__ import annotations

import gymnasium as gym

_SINGLE = "bessgym.envs.single_bess:SingleBESSEnv"
_VECTOR = "bessgym.envs.vector:BESSVectorEnv"

VARIANTS: dict[str, dict] = {
    "bessgym/SingleBESS-v1": {},
    "bessgym/SingleBESSIntraday-v1": {"agent_stages": ("delivery",)},
    "bessgym/SingleBESSCapacity-v1": {"agent_stages": ("capacity",), "episode_days": 7},
}


def register_envs() -> None:
    for env_id, kwargs in VARIANTS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_SINGLE, vector_entry_point=_VECTOR, kwargs=kwargs)
    if "bessgym/CoLocatedPVBESS-v1" not in gym.registry:
        gym.register("bessgym/CoLocatedPVBESS-v1", entry_point="bessgym.envs.colocated:CoLocatedPVBESSEnv",
                     vector_entry_point="bessgym.envs.colocated:CoLocatedVectorEnv")
    for env_id, entry_point in (("bessgym/Portfolio-v1", "bessgym.envs.portfolio:PortfolioEnv"),
                                ("bessgym/PortfolioPerAsset-v1",
                                 "bessgym.envs.portfolio_per_asset:PortfolioPerAssetEnv")):
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point)
