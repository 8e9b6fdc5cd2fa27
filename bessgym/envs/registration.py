"""Registered environment ids (entry points are strings, so registering imports no env code)."""

from __future__ import annotations

import gymnasium as gym

_SINGLE = "bessgym.envs.single_bess:SingleBESSEnv"
_VECTOR = "bessgym.envs.vector:BESSVectorEnv"

VARIANTS: dict[str, dict] = {
    "bessgym/SingleBESS-v0": {},
    "bessgym/SingleBESSIntraday-v0": {"agent_stages": ("delivery",)},
    "bessgym/SingleBESSCapacity-v0": {"agent_stages": ("capacity",), "episode_days": 7},
}


def register_envs() -> None:
    for env_id, kwargs in VARIANTS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=_SINGLE, vector_entry_point=_VECTOR, kwargs=kwargs)
    if "bessgym/CoLocatedPVBESS-v0" not in gym.registry:
        gym.register("bessgym/CoLocatedPVBESS-v0", entry_point="bessgym.envs.colocated:CoLocatedPVBESSEnv",
                     vector_entry_point="bessgym.envs.colocated:CoLocatedVectorEnv")
    for env_id, entry_point in (("bessgym/Portfolio-v0", "bessgym.envs.portfolio:PortfolioEnv"),
                                ("bessgym/PortfolioPerAsset-v0",
                                 "bessgym.envs.portfolio_per_asset:PortfolioPerAssetEnv")):
        if env_id not in gym.registry:
            gym.register(env_id, entry_point=entry_point)
