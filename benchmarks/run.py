"""Speed measurements for bessgym, reported in the README (not timed assertions in tests).

    python benchmarks/run.py            # all benchmarks, a table on stdout
    python benchmarks/run.py --json F   # also write the figures to F (atomically)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import env_speed  # benchmarks/ is on sys.path when run as a script
import portfolio_speed

from bessgym._io import atomic_path

REAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def best_of(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs [s] (the least disturbed by other load)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from bessgym.data import calibration, synthetic, validate
    from bessgym.data import loaders as L

    year = synthetic.generate("2024-01-01", "2025-01-01", seed=0)
    results = {
        "synthetic_year_s": best_of(lambda: synthetic.generate("2024-01-01", "2025-01-01", seed=0)),
        "validate_year_s": best_of(lambda: validate(year)),
        "calibration_statistics_year_s": best_of(lambda: calibration.market_statistics(year)),
    }
    smard = REAL / "smard_Gro_handelspreise_202301010000_202501010000_Stunde.csv"
    if smard.exists():
        results["read_smard_2y_s"] = best_of(lambda: L.read_smard(smard))
    afrr = REAL / "RESULT_OVERVIEW_CAPACITY_MARKET_aFRR_2024-01-01_2024-08-31.xlsx"
    if afrr.exists():
        results["read_regelleistung_xlsx_8m_s"] = best_of(lambda: L.read_regelleistung(afrr), repeat=1)
    rates = {
        "single_env_steps_per_s": max(env_speed.single_env_steps_per_s(10_000) for _ in range(3)),
        "single_env_intraday_only_steps_per_s": max(
            env_speed.single_env_steps_per_s(10_000, agent_stages=("delivery",)) for _ in range(3)),
        "vector_env_1024_steps_per_s": max(env_speed.vector_env_steps_per_s(1024, 1_000) for _ in range(3)),
    }
    june = portfolio_speed.june_market()
    for n in (100, 1000):
        rates[f"portfolio_env_{n}_steps_per_s"] = max(portfolio_speed.portfolio_env_steps_per_s(n, 2_000, june)
                                                      for _ in range(3))
    lp_days = [portfolio_speed.portfolio_lp_day_s(100, june)["portfolio_lp_100_day_s"] for _ in range(3)]
    results["portfolio_lp_100_assets_day_s"] = min(lp_days)

    print(f"bessgym benchmarks on {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    for name, value in results.items():
        print(f"  {name:<40} {value * 1000:12.1f} ms")
    for name, value in rates.items():
        print(f"  {name:<40} {value:12,.0f}")
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(results | rates, indent=2))


if __name__ == "__main__":
    main()
