"""Typed experiment configuration, read from YAML and validated with errors that name file and field.

The defaults are the main job (``make run``): a 1 MW / 2 MWh battery as in the revenue index (90 % round
trip, SoC 0-100 %, 2 cycles a day) that learns intraday continuous trading with PPO on the synthetic 2024
market (seed 0), evaluated on a held-out synthetic 2025 (seed 1).
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bessgym.assets.battery import BatterySpec
from bessgym.assets.site import PayAsProducedPPA, SiteSpec
from bessgym.envs.forecast import PRICE_SIGMA
from bessgym.market.config import PRODUCTS, MarketConfig

STRATEGIES = ("trained", "lp", "lp_noisy", "lp_rolling", "price_threshold", "time_of_day", "idle")  # the default
# learners: "trained" is trained as the `train` section says, "rl_baseline" with `rl_baseline`'s changes to it
LEARNED = ("trained", "rl_baseline")
TRAIN_FOLDERS = {"trained": "train", "rl_baseline": "train_rl_baseline"}  # in a run's output folder
MODEL_OPTIONS = {"trained": "--model", "rl_baseline": "--baseline-model"}  # bessgym evaluate's, per learner
# the sequential trading baselines (agents.lp.cascade): they decide the day-ahead and auction stages too
SEQUENTIAL = ("lp_da", "lp_cascade", "lp_cascade_noisy", "rolling_intrinsic")
# the multi-market methodology (agents.multimarket): capacity first, day-ahead around the awards, energy-only aFRR
METHODOLOGY = ("multimarket", "multimarket_noisy")
# the operating modes of a co-located site beside its joint LP, and a portfolio's assets planned one by one
SITE_MODES, PER_ASSET = ("lp_pv_priority", "lp_bess_priority"), ("lp_per_asset",)
# a tuple subscript: the same as listing the names
Strategy = Literal[STRATEGIES + ("rl_baseline",) + SEQUENTIAL + METHODOLOGY + SITE_MODES + PER_ASSET]
StageName = Literal["capacity", "day_ahead", "ida1", "ida2", "ida3", "intraday_auctions", "delivery"]
Product = Literal[PRODUCTS]


class ConfigError(ValueError):
    """A configuration file that cannot be read or does not validate; the message names file and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarketSpec(_Strict):
    """A contract table: a file (``path``) or a synthetic market (``synthetic_seed``), cut to [start, end).
    ``accept_unusual``: use a file whose monthly means lie outside the market's history (warned, not refused;
    :mod:`bessgym.data.plausibility`), as the commands' ``--accept-unusual``."""

    path: Path | None = None
    synthetic_seed: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    accept_unusual: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> MarketSpec:
        if (self.path is None) == (self.synthetic_seed is None):
            raise ValueError("give exactly one of path (a contract table) or synthetic_seed")
        if self.synthetic_seed is not None and (self.start is None or self.end is None):
            raise ValueError("a synthetic market needs start and end dates")
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise ValueError(f"start {self.start} must be before end {self.end}")
        return self

    def load(self) -> pd.DataFrame:
        """The validated contract table (UTC index), limited to delivery days start .. end (exclusive)."""
        from bessgym.data import read_table, synthetic
        from bessgym.data.calendar import MARKET_TZ

        if self.synthetic_seed is not None:
            return synthetic.generate(self.start, self.end, seed=self.synthetic_seed)
        df = read_table(self.path)
        local_dates = df.index.tz_convert(MARKET_TZ).date
        keep = [True] * len(df)
        if self.start is not None:
            keep = [k and d >= self.start for k, d in zip(keep, local_dates, strict=True)]
        if self.end is not None:
            keep = [k and d < self.end for k, d in zip(keep, local_dates, strict=True)]
        df = df[keep]
        self._check_usual(df)
        return df

    def _check_usual(self, df: pd.DataFrame) -> None:
        """Refuse (or, with ``accept_unusual``, warn about) months of the file outside the market's history."""
        from bessgym.data.plausibility import unusual_months
        from bessgym.errors import MarketDataError

        found = unusual_months(df)
        if found and self.accept_unusual:
            for line in found:
                warnings.warn(f"{self.path}: {line}", stacklevel=3)
        elif found:
            more = f" (and {len(found) - 3} more)" if len(found) > 3 else ""
            raise MarketDataError("; ".join(found[:3]) + more + "; set accept_unusual: true in the market's "
                                  "config to use it anyway", source=str(self.path))

    def label(self) -> str:
        span = f"{self.start or '...'}..{self.end or '...'}"
        return f"synthetic seed {self.synthetic_seed} {span}" if self.path is None else f"{self.path} {span}"


_ETA = math.sqrt(0.9)


class BatteryConfig(_Strict):
    """:class:`~bessgym.assets.BatterySpec` fields; the default is the revenue index's 2 h battery at 1 MW."""

    power_mw: float = 1.0
    energy_mwh: float = 2.0
    eta_charge: float = _ETA
    eta_discharge: float = _ETA
    soc_min: float = 0.0
    soc_max: float = 1.0
    soc_initial: float = 0.5
    max_cycles_per_day: float = 2.0
    aux_power_mw: float = 0.0
    degradation_cost_eur_mwh: float = 0.0

    @model_validator(mode="after")
    def _physical(self) -> BatteryConfig:
        self.spec()  # BatterySpec's own checks, reported as this field's error
        return self

    def spec(self) -> BatterySpec:
        return BatterySpec(**self.model_dump())

    def index_battery(self):
        """The revenue index battery of the same usable duration, round trip and cycle limit."""
        from agents.index import IndexBattery

        return IndexBattery(duration_h=self.energy_mwh * (self.soc_max - self.soc_min) / self.power_mw,
                            round_trip=self.eta_charge * self.eta_discharge, cycles_per_day=self.max_cycles_per_day)


EnvKind = Literal["single", "colocated", "portfolio"]


class SiteConfig(_Strict):
    """The PV plant and connection beside the battery (``env.kind: colocated``); the default is the
    co-location study's 1:1:1 site at 1 MW (1 MW connection, 1 MWp PV, pay-as-produced PPA at 42 EUR/MWh)."""

    grid_limit_mw: float = Field(1.0, gt=0)
    pv_mwp: float = Field(1.0, ge=0)
    ppa_price_eur_mwh: float = 42.0
    green_only: bool = False
    curtailment_other_eur_mwh: float = Field(0.0, ge=0)

    def spec(self, battery: BatterySpec) -> SiteSpec:
        return SiteSpec(grid_limit_mw=self.grid_limit_mw, pv_mwp=self.pv_mwp, battery=battery,
                        green_only=self.green_only, contract=PayAsProducedPPA(self.ppa_price_eur_mwh),
                        curtailment_other_eur_mwh=self.curtailment_other_eur_mwh)


class AssetConfig(_Strict):
    """One asset of a portfolio: a battery of ``power_mw`` and ``energy_mwh`` (the ``battery`` section's
    efficiencies and limits) behind its own connection (default: its power), with ``pv_mwp`` of PV."""

    power_mw: float = Field(gt=0)
    energy_mwh: float = Field(gt=0)
    pv_mwp: float = Field(0.0, ge=0)
    grid_limit_mw: float | None = Field(None, gt=0)


class PortfolioConfig(_Strict):
    """The assets of a portfolio (``env.kind: portfolio``): ``assets`` listed, else ``default`` (the six of
    :func:`~bessgym.envs.portfolio.default_portfolio`) or ``mixed`` (``size`` assets of 0.4-10 MW, a third
    with PV, drawn with ``assets_seed``); outages with MTBF and MTTR [h] (mtbf_h None: none), each asset
    from its own stream of ``outage_seed``, the same for every strategy."""

    assets: list[AssetConfig] | Literal["default", "mixed"] = "default"
    size: int = Field(100, ge=1)
    assets_seed: int = 0
    outage_seed: int = 0
    mtbf_h: float | None = Field(2_000.0, gt=0)
    mttr_h: float = Field(24.0, gt=0)

    def sites(self, battery: BatteryConfig) -> tuple[SiteSpec, ...]:
        from bessgym.envs.portfolio import default_portfolio, mixed_portfolio

        if self.assets == "default":
            return default_portfolio()
        if self.assets == "mixed":
            return mixed_portfolio(self.size, seed=self.assets_seed)
        base = battery.model_dump()
        return tuple(SiteSpec(grid_limit_mw=a.grid_limit_mw or a.power_mw, pv_mwp=a.pv_mwp,
                              battery=BatterySpec(**{**base, "power_mw": a.power_mw, "energy_mwh": a.energy_mwh}))
                     for a in self.assets)

    def reliability(self):
        from bessgym.envs.portfolio_core import Reliability

        return Reliability(mtbf_h=self.mtbf_h, mttr_h=self.mttr_h)


class EnvConfig(_Strict):
    """The env: its kind (one battery, a co-located PV site, a portfolio), which stages the agent decides,
    which products exist, forecasts."""

    kind: EnvKind = "single"
    agent_stages: list[StageName] = Field(default_factory=lambda: ["delivery"], min_length=1)
    products: list[Product] = Field(default_factory=lambda: ["intraday", "imbalance"], min_length=1)
    day_ahead_delegate: Literal["none", "spread"] = "spread"
    episode_days: int = Field(1, ge=1)
    forecast: Literal["perfect", "noisy"] = "perfect"
    forecast_sigma: float = Field(PRICE_SIGMA, ge=0)
    intraday_fee_eur_mwh: float = Field(0.2, ge=0)
    wholesale_increments: bool = True
    horizon_qh: int = Field(96, ge=1, le=192)
    observation_features: list[Literal["relative_prices", "quantile_spreads", "time_to_gate"]] = Field(
        default_factory=list)  # appended to the observation (bessgym.envs.observation)

    def market_config(self, *, energy_only_backed: bool = False,
                      capacity_volumes_nearest: bool = False) -> MarketConfig:
        """The env's market; ``energy_only_backed``, ``capacity_volumes_nearest``: a learner's action
        parametrisation (``MarketConfig``)."""
        return MarketConfig(products=frozenset(self.products), intraday_fee_eur_mwh=self.intraday_fee_eur_mwh,
                            wholesale_increments=self.wholesale_increments, energy_only_backed=energy_only_backed,
                            capacity_volumes_nearest=capacity_volumes_nearest)

    def wholesale(self) -> str:
        """The market an LP baseline trades: intraday continuous when configured, else day-ahead."""
        return "intraday" if "intraday" in self.products else "day_ahead"


class TrainConfig(_Strict):
    """RL training: algorithm, budget, the envs it collects from (single envs, or groups of the native batched
    env: ``n_envs`` groups of ``batched_copies``, each group its own days), behaviour cloning of an LP before
    RL (PPO, MaskablePPO: ``clone_from``, on ``clone_days`` random training days; then ``dagger_rounds`` of DAgger on
    ``dagger_days`` each, one battery only), normalisation, evaluation and checkpoint cadence."""

    algorithm: Literal["ppo", "sac", "maskable_ppo"] = "ppo"
    action_levels: int = Field(21, ge=3)  # maskable_ppo: values per action entry, odd (0 is one of them)
    total_steps: int = Field(400_000, ge=1)
    n_envs: int = Field(8, ge=1)  # env copies; with batched_copies > 0 the groups of the native batched env
    batched_copies: int = Field(0, ge=0)  # 0: n_envs single envs in SB3's DummyVecEnv; k: n_envs x k batched
    clone_from: Literal["lp", "lp_noisy"] | None = None  # behaviour cloning of this LP first (PPO, MaskablePPO)
    clone_days: int = Field(366, ge=1)  # random training days the LP demonstrates (a year, drawn with repeats)
    clone_epochs: int = Field(20, ge=1)
    dagger_rounds: int = Field(0, ge=0)  # after cloning: rounds of the clone acting and rolling intrinsic labelling
    dagger_days: int = Field(60, ge=1)  # random training days the clone runs in each DAgger round
    critic_warmup: bool = True  # after cloning, the value function fitted to the LP's discounted returns
    # the learner's energy-only aFRR volumes are shares of the power its SoC backs (MarketConfig.energy_only_backed):
    # it cannot offer energy it would fail to deliver (offering free power at an empty SoC cost SAC 83 kEUR/MW/year
    # of penalties on capacity-2h); the baselines' envs keep shares of free power
    backed_energy_offers: bool = True
    # the learner's capacity volumes go to the product's grid at the nearest step instead of rounded down
    # (MarketConfig.capacity_volumes_nearest): rounded down, a 1 MW battery offers nothing below an action of exactly
    # 1, so the Gaussian clone of the LP's offers (a mean of offering and not) offered no capacity on any task;
    # nearest, it held capacity but lost more energy-only revenue than the capacity paid (capacity-2h, 7 days:
    # 82.1 % of the LP instead of 89.5 %), and the categorical clone, whose levels include 1, held the same
    # capacity either way: off by default
    nearest_capacity_volumes: bool = False
    # env.kind portfolio: the learner decides per asset and sees each asset's state (PortfolioPerAsset-v1) instead
    # of one action for every asset (Portfolio-v1); the LPs and rules are not affected
    per_asset: bool = False
    seed: int = 0
    normalize_obs: bool = True
    normalize_reward: bool = True
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    eval_every_steps: int = Field(100_000, ge=1)
    eval_days: int = Field(14, ge=1)
    checkpoint_every_steps: int = Field(50_000, ge=1)
    torch_threads: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _clone_ppo(self) -> TrainConfig:
        if self.clone_from is not None and self.algorithm == "sac":
            raise ValueError("clone_from: behaviour cloning pre-trains PPO or MaskablePPO, not sac")
        if self.dagger_rounds and self.clone_from is None:
            raise ValueError("dagger_rounds: DAgger improves a clone; set clone_from too")
        if self.action_levels % 2 == 0:
            raise ValueError(f"action_levels must be odd (0 must be a level), got {self.action_levels}")
        return self


# the RL baseline beside a cloned learner: plain PPO on the same env, at PPO's default learning rate
RL_BASELINE: dict[str, Any] = {"algorithm": "ppo", "clone_from": None, "dagger_rounds": 0, "hyperparameters": {}}


class EvaluateConfig(_Strict):
    """Which strategies to evaluate on the held-out market, over how many days (None: all); the days each
    dispatch chart shows: ``dispatch_days`` from ``dispatch_start`` (None: the first evaluated day); how many
    forecast draws bracket the noisy LP (its artifacts are the first draw's, its metrics add the mean and the
    spread over all)."""

    strategies: list[Strategy] = Field(default_factory=lambda: list(STRATEGIES), min_length=1)
    days: int | None = Field(None, ge=1)
    dispatch_start: dt.date | None = None
    dispatch_days: int = Field(3, ge=1)
    seed: int = 0
    noise_seeds: int = Field(5, ge=1)  # forecast draws of the noisy LPs (lp_noisy, lp_rolling), from seed on


class ExperimentConfig(_Strict):
    """One experiment: markets to train and evaluate on, the battery (and its site or portfolio), the env,
    training and evaluation."""

    name: str = Field("intraday-ppo", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    train_market: MarketSpec = MarketSpec(synthetic_seed=0, start=dt.date(2024, 1, 1), end=dt.date(2025, 1, 1))
    eval_market: MarketSpec = MarketSpec(synthetic_seed=1, start=dt.date(2025, 1, 1), end=dt.date(2026, 1, 1))
    battery: BatteryConfig = BatteryConfig()
    site: SiteConfig = SiteConfig()  # read with env.kind colocated
    portfolio: PortfolioConfig = PortfolioConfig()  # read with env.kind portfolio
    env: EnvConfig = EnvConfig()
    train: TrainConfig = TrainConfig()
    # the second learner (strategy ``rl_baseline``): the ``train`` fields it changes; by default plain PPO
    rl_baseline: dict[str, Any] = Field(default_factory=lambda: dict(RL_BASELINE))
    evaluate: EvaluateConfig = EvaluateConfig()

    @model_validator(mode="after")
    def _rl_baseline_valid(self) -> ExperimentConfig:
        try:
            self.rl_baseline_config()
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if self.train.per_asset and self.env.kind != "portfolio":
            raise ValueError(f"train.per_asset: a decision per asset is a portfolio's (env.kind portfolio); "
                             f"env.kind is {self.env.kind!r}")
        return self

    def learner_config(self, strategy: str) -> ExperimentConfig:
        """The configuration a learner is trained with: ``train`` for ``trained``, ``train`` changed by
        ``rl_baseline`` for ``rl_baseline``."""
        if strategy not in LEARNED:
            raise ValueError(f"{strategy!r} is not a learner; learners are {', '.join(LEARNED)}")
        return self if strategy == "trained" else self.rl_baseline_config()

    def rl_baseline_config(self) -> ExperimentConfig:
        train = {**self.train.model_dump(mode="json"), **self.rl_baseline}
        try:
            return self.model_copy(update={"train": TrainConfig.model_validate(train)})
        except ValidationError as exc:
            problems = "; ".join(f"rl_baseline.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(problems) from None

    def with_overrides(self, overrides: dict[str, Any]) -> ExperimentConfig:
        """A copy with dotted keys replaced (``{"battery.energy_mwh": 4}``), validated again."""
        data = self.model_dump(mode="json")
        for key, value in overrides.items():
            node = data
            *parents, leaf = key.split(".")
            for part in parents:
                if not isinstance(node.get(part), dict):
                    raise ConfigError(f"override {key!r}: {part!r} is not a section of the configuration")
                node = node[part]
            node[leaf] = value  # an unknown leaf is rejected by validation (extra fields are forbidden)
        return parse_config(data, source="overrides")

    def flat(self) -> dict[str, str]:
        """Dotted key -> value, for MLflow params."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict) and value:
                for k, v in value.items():
                    walk(f"{prefix}.{k}" if prefix else k, v)
            else:
                out[prefix] = str(value)

        walk("", self.model_dump(mode="json"))
        return out


def parse_config(data: Any, *, source: str) -> ExperimentConfig:
    """Validate a mapping; every problem is listed as ``source: field.path: message``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the configuration must be a mapping of sections, got {type(data).__name__}")
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        lines = [f"{source}: {'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
                 for err in exc.errors()]
        raise ConfigError("invalid configuration\n" + "\n".join(lines)) from None


def load_config(path: Path | None) -> ExperimentConfig:
    """Read a YAML experiment file (None: the defaults)."""
    if path is None:
        return ExperimentConfig()
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark is not None else ""
        raise ConfigError(f"{path}:{where} not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if data is None:  # an empty file (or only comments): most likely the wrong file, not a wish for the defaults
        raise ConfigError(f"{path}: the configuration is empty; give its sections (leave out --config for the "
                          "defaults)")
    return parse_config(data, source=str(path))


def dump_config(config: ExperimentConfig, path: Path) -> Path:
    """Write the configuration as YAML (atomically), so a run records exactly what it ran."""
    from bessgym._io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
    return path
