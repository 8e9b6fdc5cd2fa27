"""One Agent interface for every strategy: RL policies, rules and LP baselines.

An agent is handed the env once per episode (``reset``), then answers each decision with a normalised
action from the observation and the info dict, as ``SingleBESSEnv.step`` expects. Rules read only the
observation (so they also run on live data); LP agents plan on the env's read-only view of the day
(:class:`~bessgym.envs.view.DayView`), like the env's delegates.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import gymnasium as gym
import numpy as np

from bessgym.envs.delegates import Delegate
from bessgym.envs.observation import N_FIXED, PRICE_SCALE
from bessgym.market.products import Stage


class Agent(ABC):
    """A strategy that acts in a single-battery env. ``name`` labels its results."""

    name: str = "agent"

    def reset(self, env: gym.Env) -> None:  # noqa: B027 (optional hook, empty on purpose)
        """Called after every ``env.reset``; agents that plan on the day's view keep a handle here."""

    @abstractmethod
    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        """The action for the decision described by ``observation`` and ``info`` (stage, action mask)."""


class DelegateAgent(Agent):
    """Any delegate-protocol policy (``act(view, stage, q)``, e.g. the LP baselines) as an agent."""

    def __init__(self, policy: Delegate, name: str) -> None:
        self.policy, self.name = policy, name
        self._env: gym.Env | None = None

    def reset(self, env: gym.Env) -> None:
        self._env = env.unwrapped

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        if self._env is None:
            raise RuntimeError(f"{self.name}: call reset(env) after env.reset() before act()")
        width = len(info["action_mask"])
        proposal = self.policy.act(self._env.day_view, Stage[info["stage"].upper()], info["quarter_hour"])[0]
        action = np.zeros(width, dtype=np.float32)
        action[: min(width, proposal.shape[0])] = proposal[:width]
        return action


class Idle(Agent):
    """No trades and no offers: the zero line every strategy is measured against."""

    name = "idle"

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        return np.zeros(len(info["action_mask"]), dtype=np.float32)


def _intraday_window(observation: np.ndarray, horizon_qh: int) -> np.ndarray:
    """The ID1 price forecast of the next ``horizon_qh`` quarter-hours from an observation [EUR/MWh]."""
    start = N_FIXED + 2 * horizon_qh
    return observation[start:start + horizon_qh] / PRICE_SCALE


class PriceThreshold(Agent):
    """Intraday rule: buy at full room when the quarter-hour's ID1 price is among the cheapest ``share`` of the
    next ``lookahead_qh`` forecast quarter-hours, sell when among the dearest, else hold.

    Relative thresholds follow the price level through the year, unlike fixed EUR/MWh limits.
    """

    name = "price_threshold"

    def __init__(self, share: float = 0.2, lookahead_qh: int = 96, horizon_qh: int = 96) -> None:
        if not 0 < share < 0.5:
            raise ValueError(f"share must be in (0, 0.5), got {share}")
        if not 1 <= lookahead_qh <= horizon_qh:
            raise ValueError(f"lookahead_qh must be in [1, horizon_qh={horizon_qh}], got {lookahead_qh}")
        self.share, self.lookahead_qh, self.horizon_qh = share, lookahead_qh, horizon_qh

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        action = np.zeros(len(info["action_mask"]), dtype=np.float32)
        if info["stage"] != "delivery":
            return action
        window = _intraday_window(observation, self.horizon_qh)[: self.lookahead_qh]
        low, high = np.quantile(window, [self.share, 1.0 - self.share])
        now = window[0]
        action[0] = -1.0 if now <= low else (1.0 if now >= high else 0.0)
        return action


class TimeOfDay(Agent):
    """Intraday rule on the local clock: charge in ``charge_hours``, discharge in ``discharge_hours``.

    The default follows the German duck curve: charge at night and at the PV midday trough, discharge in
    the morning and evening peaks.
    """

    name = "time_of_day"

    def __init__(self, charge_hours: tuple[int, ...] = (2, 3, 4, 11, 12, 13),
                 discharge_hours: tuple[int, ...] = (7, 8, 18, 19, 20, 21)) -> None:
        if set(charge_hours) & set(discharge_hours):
            raise ValueError(f"hours in both charge and discharge: {sorted(set(charge_hours) & set(discharge_hours))}")
        if not all(0 <= h < 24 for h in (*charge_hours, *discharge_hours)):
            raise ValueError("hours must be in 0..23 (local time)")
        self.sign = np.zeros(24, dtype=np.float32)
        self.sign[list(charge_hours)], self.sign[list(discharge_hours)] = -1.0, 1.0

    def act(self, observation: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        action = np.zeros(len(info["action_mask"]), dtype=np.float32)
        if info["stage"] != "delivery":
            return action
        angle = np.arctan2(observation[8], observation[9]) % (2 * np.pi)  # sin/cos of the local time of day
        quarter = int(np.rint(angle / (2 * np.pi) * 96)) % 96  # rounded: float32 sin/cos are not exact
        action[0] = self.sign[quarter // 4]
        return action
