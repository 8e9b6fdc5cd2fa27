"""Small wrappers for common set-ups, each changing one thing (Gymnasium's own cover normalisation,
reward scaling and statistics)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import gymnasium as gym
import pandas as pd


class EpisodeRevenue(gym.Wrapper):
    """Adds ``info["episode_cash_flow_eur"]`` (totals per product so far) and, at the episode's end,
    ``info["episode_revenue_eur"]`` (their sum). The env's own info is left as it is."""

    def reset(self, **kwargs: Any):
        self._totals: Counter[str] = Counter()
        obs, info = self.env.reset(**kwargs)
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._totals.update(info["cash_flow_eur"])
        info["episode_cash_flow_eur"] = dict(self._totals)
        if terminated or truncated:
            info["episode_revenue_eur"] = float(sum(self._totals.values()))
        return obs, reward, terminated, truncated, info


class RecordDispatch(gym.Wrapper):
    """Records every agent step (stage, SoC, power, schedule, trade, activations, cash flows) for plots.

    ``frame()`` returns one row per step of the current episode as a DataFrame.
    """

    def reset(self, **kwargs: Any):
        self._rows: list[dict[str, Any]] = []
        return self.env.reset(**kwargs)

    def step(self, action):
        stage, delivery_date, quarter_hour = self.env.unwrapped.decision_point
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._rows.append({"stage": stage, "delivery_date": delivery_date, "quarter_hour": quarter_hour,
                           "reward": reward, "soc_mwh": info["soc_mwh"], **info.get("physics", {}),
                           **{f"cash_{k}_eur": v for k, v in info["cash_flow_eur"].items()}})
        return obs, reward, terminated, truncated, info

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self._rows)
