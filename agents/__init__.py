"""Reference agents: LP baselines (HiGHS), the revenue index and the multi-market methodology.

Every strategy answers the same call: run it on market data (``agents.index.index_revenues``) or in an env
(``agents.lp.delegate.run_policy``) and get a tidy table of revenues per day (and product).
"""

from agents.index import STRATEGIES, IndexBattery, IndexResult, index_revenues
from agents.lp.cascade import CascadeLPPolicy
from agents.lp.delegate import DailyLPPolicy, run_policy
from agents.lp.horizon import solve_horizon
from agents.lp.model import ActorLP, BatteryLP
from agents.lp.terms import LPProducts, LPResult
from agents.multimarket import MultiMarketPolicy, run_multi_market
from agents.portfolio import PortfolioLPPolicy

__all__ = [
    "STRATEGIES",
    "BatteryLP",
    "CascadeLPPolicy",
    "DailyLPPolicy",
    "IndexBattery",
    "IndexResult",
    "LPProducts",
    "LPResult",
    "MultiMarketPolicy",
    "ActorLP",
    "PortfolioLPPolicy",
    "index_revenues",
    "run_multi_market",
    "run_policy",
    "solve_horizon",
]
