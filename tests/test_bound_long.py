"""Benchmark truth on many days (``make test-long``, not part of ``make test``: about an hour on 2 cores):
on every task, no baseline earns more than the reference over 28 test days for any of seeds 0-2, and each
noisy baseline earns less than its perfect-foresight twin on average over the seeds; on a co-located site, joint
operation is worth at least either priority on every day of a year."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from experiments.bound import above_reference, noisy_against_perfect, shares
from experiments.tasks import TASKS

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

pytestmark = pytest.mark.long


@pytest.mark.parametrize("name", list(TASKS))
def test_the_reference_bounds_every_baseline_and_noise_costs(name):
    table = pd.concat([shares(TASKS[name], 28, seed) for seed in range(3)])
    assert above_reference(table).empty, above_reference(table).to_string()
    twins = noisy_against_perfect(table)
    assert (twins["difference_eur"] < 0).all(), twins.to_string()


@pytest.mark.parametrize("market", ["synthetic", "real"])
def test_joint_operation_is_worth_at_least_either_priority_on_every_day_of_a_year(market, tmp_path, real_data):
    """The study's site with perfect foresight, each mode day by day (``bessgym colocation modes --continuous``):
    the joint plan's site value is at least BESS priority's and PV priority's on every day of synthetic 2024 and
    of real 2024 (prices with the national solar profile, scripts/real_2024_site_table.py). Day-ahead volumes
    are executed as planned: on the exchange's 0.1 MW grid the rounding of each mode's continuous plan moves its
    day by a few EUR either way and its end SoC off the plan, into the next day (docs/colocation.md)."""
    from bessgym.data import synthetic
    from experiments.sizing import mode_comparison

    if market == "synthetic":
        table = synthetic.default_year()
    else:
        import runpy

        runpy.run_path(str(SCRIPTS / "real_2024_site_table.py"), run_name="site")["main"](real_data,
                                                                                         tmp_path / "site.parquet")
        table = pd.read_parquet(tmp_path / "site.parquet")  # the average price as the marginal: the study's bids
    modes = mode_comparison(table, tmp_path, days=366, increments=False)
    assert len(modes) == 366
    slack = 1e-6 * modes["site_eur_joint"].abs()  # the LPs' MILP gap (agents.lp.model.MILP_OPTIONS)
    for other in ("bess_priority", "pv_priority"):
        behind = modes[modes["site_eur_joint"] < modes[f"site_eur_{other}"] - slack]
        assert behind.empty, behind.to_string()
