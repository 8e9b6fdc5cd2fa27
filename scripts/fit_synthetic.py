"""Refit the day-ahead parameters of the synthetic market to the published 2024 statistics.

This is how the defaults in ``bessgym.data.synthetic.DayAheadModel`` were obtained; rerun it after changing
the model. The scalar parameters are fitted by Nelder-Mead on the calibration statistics of several seeds;
the hour-of-day shape is solved by a damped fixed-point iteration inside each evaluation.

    python scripts/fit_synthetic.py --seeds 0 1 2 3 --iterations 300
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import pandas as pd
from scipy.optimize import minimize

from bessgym.data import calibration
from bessgym.data.calendar import quarter_hours
from bessgym.data.synthetic import DayAheadModel, SyntheticMarketConfig, _Calendar, _day_ahead, _pv

FITTED = ("level_eur_mwh", "level_sigma", "level_persistence", "pv_sensitivity",
          "noise_sigma", "noise_persistence", "zero_stickiness_eur_mwh", "negative_slope",
          "spike_threshold_eur_mwh")
HOURS = [f"da_hour_{h:02d}" for h in range(24)]
MONTHS = [f"da_month_{m:02d}" for m in range(1, 13)]
SCALARS = [k for k in calibration.TOLERANCES if k.startswith("da_") and k not in HOURS]
# p95 sits close to its tolerance when the hour shape compensates the mean PV effect; weigh it up.
WEIGHTS = pd.Series({k: 3.0 if k == "da_p95" else 1.0 for k in SCALARS})


def _setup(seeds: list[int]) -> list[tuple[_Calendar, np.ndarray, np.random.SeedSequence]]:
    cfg = SyntheticMarketConfig()
    cal = _Calendar.of(quarter_hours("2024-01-01", "2025-01-01"))
    out = []
    for seed in seeds:
        streams = np.random.SeedSequence(seed).spawn(5)
        _, national = _pv(cal, cfg.pv_site, np.random.default_rng(streams[0]))
        out.append((cal, national, streams[1]))
    return out


def _stats(model: DayAheadModel, cases) -> list[dict[str, float]]:
    result = []
    for cal, national, stream in cases:
        da, _ = _day_ahead(cal, national, model, np.random.default_rng(stream))
        result.append(calibration.day_ahead_statistics(pd.Series(da, index=cal.index)))
    return result


def _fit_shape(model: DayAheadModel, cases, rounds: int = 4) -> DayAheadModel:
    """Fixed point for the hour shape (additive) and the month factors (multiplicative)."""
    hour_target = np.array([calibration.TARGETS_2024[k] for k in HOURS])
    month_target = np.array([calibration.TARGETS_2024[k] for k in MONTHS])
    for _ in range(rounds):
        stats = _stats(model, cases)
        hours = np.mean([[s[k] for k in HOURS] for s in stats], axis=0)
        months = np.mean([[s[k] for k in MONTHS] for s in stats], axis=0)
        shape = np.asarray(model.hour_shape) + 0.8 * (hour_target - hours) / model.level_eur_mwh
        factor = np.asarray(model.month_factor) * (month_target / np.maximum(months, 5.0)) ** 0.8
        factor /= factor.mean()
        model = dataclasses.replace(model, hour_shape=tuple(np.round(np.clip(shape, 0.2, 4.0), 3)),
                                    month_factor=tuple(np.round(factor, 3)))
    return model


def _loss(model: DayAheadModel, cases) -> float:
    comp = [calibration.compare(s, calibration.TARGETS_2024).table for s in _stats(model, cases)]
    loss = 0.0
    for t in comp:
        scaled = t.loc[SCALARS, "rel_error"] / t.loc[SCALARS, "tolerance"]
        loss += float((WEIGHTS * scaled**2).sum() + 0.2 * ((t.loc[HOURS, "rel_error"] / 0.15) ** 2).sum())
    return loss / len(comp)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    cases = _setup(args.seeds)
    base = DayAheadModel()
    x0 = np.array([getattr(base, k) for k in FITTED], dtype=float)

    def model_of(x: np.ndarray, start: DayAheadModel) -> DayAheadModel:
        values = {k: float(v) for k, v in zip(FITTED, x, strict=True)}
        values["level_persistence"] = float(np.clip(values["level_persistence"], 0.0, 0.97))
        values["noise_persistence"] = float(np.clip(values["noise_persistence"], 0.0, 0.97))
        return dataclasses.replace(start, **{k: abs(v) if k != "level_persistence" else v
                                             for k, v in values.items()})

    state = {"model": _fit_shape(base, cases)}

    def objective(x: np.ndarray) -> float:
        model = _fit_shape(model_of(x, state["model"]), cases, rounds=2)
        loss = _loss(model, cases)
        if loss < state.get("best", np.inf):
            state["best"], state["model"] = loss, model
            print(f"loss {loss:8.3f}  " + " ".join(f"{k}={getattr(model, k):.3f}" for k in FITTED), flush=True)
        return loss

    minimize(objective, x0, method="Nelder-Mead", options={"maxfev": args.iterations, "xatol": 1e-3})
    best = _fit_shape(state["model"], cases, rounds=4)
    print("\nbest loss", _loss(best, cases))
    for name in (*FITTED, "hour_shape", "month_factor"):
        value = getattr(best, name)
        print(f"{name} = {tuple(float(v) for v in value) if isinstance(value, tuple) else round(value, 3)}")


if __name__ == "__main__":
    main()
