"""Experiment driver: configuration errors, agents, evaluation accounting, training end to end with MLflow
artifacts that agree, ONNX export, resume, sweeps with a failing point, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from agents.base import Idle, PriceThreshold, TimeOfDay
from bessgym.data.arrays import MarketArrays
from bessgym.envs.observation import N_FIXED, PRICE_SCALE
from experiments.config import ConfigError, ExperimentConfig, load_config
from experiments.evaluate import evaluate_strategies, make_agent, make_env, run_agent

SMALL = {
    "train_market.end": "2024-01-08",
    "eval_market.start": "2025-03-03", "eval_market.end": "2025-03-08",
    "train.total_steps": 2048, "train.n_envs": 2, "train.eval_every_steps": 1024, "train.eval_days": 2,
    "train.checkpoint_every_steps": 512, "train.hyperparameters": {"n_steps": 256, "batch_size": 128},
    "evaluate.days": 3, "evaluate.dispatch_days": 2,
}


@pytest.fixture(scope="module")
def small() -> ExperimentConfig:
    return ExperimentConfig().with_overrides({**SMALL, "name": "test-small"})


# ------------------------------------------------------------------------------------------ config


def test_config_errors_name_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("battery:\n  energy_mwh: -2\ntrain:\n  algorithm: dqn\nenv:\n  prodcts: [intraday]\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    text = str(err.value)
    assert f"{path}: battery" in text and "energy_mwh must be > 0" in text
    assert f"{path}: train.algorithm" in text and "'ppo', 'sac' or 'maskable_ppo'" in text
    assert f"{path}: env.prodcts: Extra inputs are not permitted" in text
    path.write_text("battery: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: line 2, column 1: not valid YAML"):
        load_config(path)
    with pytest.raises(ConfigError, match="synthetic market needs start and end"):
        ExperimentConfig().with_overrides({"eval_market.start": None})
    with pytest.raises(ConfigError, match="'name' is not a section"):
        ExperimentConfig().with_overrides({"name.trained": 1})


def test_config_round_trip(tmp_path):
    from experiments.config import dump_config

    config = ExperimentConfig().with_overrides({"battery.energy_mwh": 4.0, "train.seed": 7})
    assert load_config(dump_config(config, tmp_path / "c.yaml")) == config
    assert config.flat()["battery.energy_mwh"] == "4.0"
    assert config.battery.index_battery().duration_h == pytest.approx(4.0)


# ------------------------------------------------------------------------------------------ agents


def _observation(prices: np.ndarray, hour: float, horizon: int = 96) -> np.ndarray:
    obs = np.zeros(N_FIXED + 3 * horizon + 18, dtype=np.float32)
    angle = 2 * np.pi * hour / 24
    obs[8], obs[9] = np.sin(angle), np.cos(angle)
    obs[N_FIXED + 2 * horizon: N_FIXED + 3 * horizon] = prices * PRICE_SCALE
    return obs


def test_rule_agents_by_hand():
    info = {"stage": "delivery", "action_mask": np.ones(9, bool)}
    tod = TimeOfDay(charge_hours=(3,), discharge_hours=(19,))
    flat = np.full(96, 50.0)
    assert tod.act(_observation(flat, 3.75), info)[0] == -1.0  # 03:45 is in hour 3
    assert tod.act(_observation(flat, 19.0), info)[0] == 1.0
    assert tod.act(_observation(flat, 18.75), info)[0] == 0.0
    ramp = np.arange(96, dtype=float)  # now is the cheapest of the window, then the dearest
    assert PriceThreshold(share=0.2).act(_observation(ramp, 0), info)[0] == -1.0
    assert PriceThreshold(share=0.2).act(_observation(ramp[::-1].copy(), 0), info)[0] == 1.0
    assert PriceThreshold(share=0.2).act(_observation(np.r_[50.0, ramp[1:]], 0), info)[0] == 0.0
    assert not Idle().act(_observation(flat, 0), info).any()
    assert not tod.act(_observation(flat, 3), {"stage": "capacity", "action_mask": np.ones(30, bool)}).any()
    with pytest.raises(ValueError, match="both charge and discharge"):
        TimeOfDay(charge_hours=(1, 2), discharge_hours=(2,))


# -------------------------------------------------------------------------------------- evaluation


def test_evaluation_accounts_for_every_reward(small):
    """The revenue table is the env's settlement: its total equals the rewards paid, day by day it adds up
    over products, and metrics are per MW and annualised."""
    market = MarketArrays.from_frame(small.eval_market.load())
    config = small.with_overrides({"battery.power_mw": 2.0, "battery.energy_mwh": 4.0})
    env = make_env(config, market, episode_days=3, start_day=market.dates[0])
    evaluation = run_agent(make_agent("price_threshold", config), env)
    daily = evaluation.daily()
    assert len(daily) == 3 and len(evaluation.dispatch) == 3 * 96
    assert daily["total"].sum() == pytest.approx(evaluation.reward_eur, rel=1e-9, abs=1e-6)
    assert np.allclose(daily.drop(columns="total").sum(axis=1), daily["total"])
    m = evaluation.metrics()
    assert m["annualised_eur_per_mw_year"] == pytest.approx(daily["total"].sum() / 3 * 365 / 2.0)
    discharged = evaluation.dispatch["power_mw"].clip(lower=0).sum() * 0.25
    assert m["cycles_per_day"] == pytest.approx(discharged / 4.0 / 3)
    soc = evaluation.dispatch["soc_mwh"]
    assert soc.min() >= -1e-9 and soc.max() <= 4.0 + 1e-9


def test_lp_is_the_best_and_noise_costs(small):
    """The perfect-foresight LP beats every other strategy on the same days; forecast noise costs it."""
    market = MarketArrays.from_frame(small.eval_market.load())
    results = evaluate_strategies(small.with_overrides({"evaluate.strategies": [
        "lp_noisy", "price_threshold", "time_of_day", "idle"]}), market)
    totals = {k: v.metrics()["revenue_eur"] for k, v in results.items()}
    assert totals["idle"] == 0.0
    assert totals["lp"] > max(totals["lp_noisy"], totals["price_threshold"], totals["time_of_day"]) > 0
    noisy = results["lp_noisy"].metrics(lp_eur=totals["lp"])  # bracketed over the configured 5 draws
    assert noisy["draws"] == 5 and len(set(results["lp_noisy"].draws_eur)) == 5
    assert noisy["annualised_std_eur_per_mw_year"] > 0
    assert max(results["lp_noisy"].draws_eur) < totals["lp"] and noisy["share_of_pf_lp_mean"] < 1


def test_a_noisy_plan_never_beats_the_perfect_plan_in_the_lps_own_model():
    """Why perfect >= noisy: the perfect-foresight plan is optimal for the realised prices, and a plan made on
    noisy prices is feasible under the same constraints (they do not depend on prices), so valued at the
    realised prices it earns no more, for every draw and hence in expectation. (In the env a draw can still
    beat the perfect LP by chance: the env settles what the daily LP does not model, pay-as-bid clearing,
    volume increments, the day's end SoC pinned to its start; hence the bracket over draws.)"""
    from agents.lp.model import BatteryLP
    from agents.lp.terms import LPProducts
    from bessgym.assets import BatterySpec
    from bessgym.data import synthetic

    prices = synthetic.generate("2024-06-03", "2024-06-04", seed=5)["da_price"].to_numpy()
    battery = BatterySpec(degradation_cost_eur_mwh=2.0)
    lp = BatteryLP(battery, LPProducts(hourly_day_ahead=False), 96)
    perfect = lp.solve(price_da=prices, soc0_mwh=10.0, soc_end_mwh=(10.0, 10.0)).objective_eur
    rng = np.random.default_rng(0)
    for _ in range(5):
        plan = lp.solve(price_da=prices * (1 + 0.1 * rng.standard_normal(96)))
        realised = 0.25 * (prices @ plan.day_ahead_mw - 2.0 * plan.discharge_mw.sum())
        assert realised <= perfect + 1e-6


# ----------------------------------------------------------------------------- training end to end


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tracking, small):
    from experiments.report import evaluate_run
    from experiments.train import train

    out = tmp_path_factory.mktemp("run")
    result = train(small, out / "train")
    config = small.with_overrides({"evaluate.strategies": ["trained", "lp", "idle"]})
    report = evaluate_run(config, out / "evaluate", model_dir=result.model_dir)
    return result, report, config


def test_training_writes_model_checkpoints_and_metrics(trained):
    result, _, _ = trained
    assert result.steps >= 2048
    for name in ("model.zip", "vecnormalize.pkl", "agent.json", "policy.onnx"):
        assert (result.model_dir / name).exists(), name
    root = result.model_dir.parent
    latest = json.loads((root / "checkpoints" / "latest.json").read_text())
    assert (root / "checkpoints" / latest["folder"] / "model.zip").exists()
    assert len(list((root / "checkpoints").glob("step_*"))) == 1  # older checkpoints are removed
    history = mlflow.MlflowClient().get_metric_history(result.run_id, "eval/share_of_pf_lp")
    assert [h.step for h in history][:2] == [1024, 2048]
    assert len(result.evaluations) >= 2


def test_evaluation_artifacts_agree_with_logged_metrics(trained):
    _, report, config = trained
    client = mlflow.MlflowClient()
    children = client.search_runs([client.get_run(report.run_id).info.experiment_id],
                                  filter_string=f"tags.mlflow.parentRunId = '{report.run_id}'")
    assert {r.data.tags["strategy"] for r in children} == {"trained", "lp", "idle"}
    for run in children:
        strategy = run.data.tags["strategy"]
        revenue = pd.read_csv(report.out / strategy / "revenue.csv", index_col=0)
        assert revenue["total"].sum() == pytest.approx(run.data.metrics["revenue_eur"], rel=1e-9, abs=1e-6)
        assert run.data.metrics["days"] == 3
        assert run.data.params["battery.energy_mwh"] == "2.0"
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"revenue.csv", "dispatch.png", "rolling.png"} <= artifacts
        if strategy == "trained":
            model_files = {a.path for a in client.list_artifacts(run.info.run_id, "model")}
            assert {"model/model.zip", "model/policy.onnx", "model/vecnormalize.pkl"} <= model_files
    assert report.metrics["lp"]["share_of_pf_lp"] == pytest.approx(1.0)
    assert report.comparison.loc["index: trading", "share_of_index_trading"] == pytest.approx(1.0)


def test_onnx_export_acts_like_the_torch_policy(trained, small):
    from agents.rl import OnnxAgent, RLAgent

    result, _, _ = trained
    agent, exported = RLAgent.load(result.model_dir), OnnxAgent(result.model_dir / "policy.onnx")
    market = MarketArrays.from_frame(small.eval_market.load())
    env = make_env(small, market, episode_days=1, start_day=market.dates[0])
    obs, info = env.reset(seed=0)
    samples = [obs]
    for _ in range(40):
        obs, *_ = env.step(agent.act(obs, info))
        samples.append(obs)
    rng = np.random.default_rng(0)
    samples += [s + rng.normal(0, 0.5, s.shape).astype(np.float32) for s in samples[:10]]  # off the data
    for s in samples:
        np.testing.assert_allclose(exported.act(s), agent.act(s, info), atol=1e-5)


def test_resume_continues_the_same_run(tmp_path, tracking, small):
    from experiments.train import train

    config = small.with_overrides({"train.total_steps": 1024, "train.eval_every_steps": 100_000})

    def interrupt(steps: int) -> None:
        if steps >= 600:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, progress=interrupt)
    latest = json.loads((tmp_path / "checkpoints" / "latest.json").read_text())
    assert 600 <= latest["steps"] < 1024  # saved on the interrupt
    with pytest.raises(ConfigError, match="train.seed"):
        train(config.with_overrides({"train.seed": 5}), tmp_path, resume=True)
    result = train(config, tmp_path, resume=True)
    assert result.run_id == latest["run_id"] and result.steps >= 1024
    # a finished run (shorter than a checkpoint interval) trains on with --resume and a larger total
    longer = train(config.with_overrides({"train.total_steps": 2048}), tmp_path, resume=True)
    assert longer.run_id == latest["run_id"] and longer.steps >= 2048
    curve = pd.read_csv(tmp_path / "learning_curve.csv")  # one row per evaluation, the resumed ones kept
    assert len(curve) >= 2 and curve["steps"].is_monotonic_increasing and (tmp_path / "learning_curve.png").exists()
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        train(config, tmp_path / "elsewhere", resume=True)


def test_planned_steps_round_up_to_whole_rollouts_and_say_so(small):
    from experiments.train import planned_steps

    ppo = small.with_overrides({"train.algorithm": "ppo", "train.total_steps": 400_000, "train.n_envs": 8,
                                "train.hyperparameters": {"n_steps": 1024}})
    planned, why = planned_steps(ppo)
    assert planned == 401_408 and "1,024 steps x 8 envs" in why and "400,000" in why
    exact = ppo.with_overrides({"train.total_steps": 8_192})
    assert planned_steps(exact) == (8_192, None)


# ------------------------------------------------------------------------------------ sweep, compare


def test_sweep_reports_a_failed_point_and_keeps_the_others(tmp_path, tracking, small):
    from experiments.sweep import sweep

    base = small.with_overrides({"evaluate.strategies": ["lp", "idle"], "evaluate.days": 2, "name": "test-sweep"})
    with pytest.raises(ConfigError, match="energy_mwh must be > 0"):
        sweep(base, {"battery.energy_mwh": [-1.0]}, tmp_path / "bad")  # invalid points fail before running
    missing = tmp_path / "missing.parquet"
    grid = {"eval_market": [small.eval_market.model_dump(mode="json"), {"path": str(missing)}],
            "battery.energy_mwh": [2.0, 4.0]}
    done: list[int] = []
    results = sweep(base, grid, tmp_path / "sweep", workers=2, on_done=lambda i, r: done.append(i))
    assert sorted(done) == [0, 1, 2, 3]
    assert list(results["status"]) == ["ok", "ok", "failed", "failed"]
    assert all(str(missing) in e for e in results.loc[[2, 3], "error"])
    assert results.loc[1, "lp_eur_per_mw_year"] > results.loc[0, "lp_eur_per_mw_year"] > 0  # 4 h earns more per MW
    assert pd.read_csv(tmp_path / "sweep" / "results.csv", index_col=0)["status"].tolist() == list(results["status"])
    done.clear()
    again = sweep(base, grid, tmp_path / "sweep", workers=2, on_done=lambda i, r: done.append(i))
    assert sorted(done) == [2, 3]  # a rerun retries only what failed
    assert again.loc[0, "lp_eur_per_mw_year"] == results.loc[0, "lp_eur_per_mw_year"]


def test_compare_lists_runs_with_their_strategy(trained):
    from experiments.tracking import runs_table

    table = runs_table("test-small")
    evaluated = table.dropna(subset=["strategy"])
    assert {"trained", "lp", "idle"} <= set(evaluated["strategy"])
    lp = evaluated[evaluated["strategy"] == "lp"].iloc[0]
    assert lp["share_of_pf_lp"] == pytest.approx(1.0)
    assert table[["annualised_eur_per_mw_year", "cycles_per_day"]].notna().any(axis=1).all()  # no parent rows
    assert "train" in set(table["kind"])  # a training run shows its last evaluation


def test_tables_keep_each_metrics_precision_and_escape_markup():
    from rich.console import Console

    from experiments.tables import cell, rich_table

    assert cell("cycles_per_day", 1.979) == "1.98"  # not rounded to a whole cycle
    assert cell("share_of_pf_lp", 0.042) == "4.2%"
    assert cell("trained_share_of_pf_lp", 0.042) == "4.2%"  # a sweep's share column
    assert cell("power_mw", 0.6) == "0.60" and cell("reserve_alone_mwh", 12.345) == "12.35"
    assert cell("revenue_eur", 110499.3) == "110,499" and cell("penalties_eur", 12.5) == "12.50"
    assert cell("annualised_eur_per_mw_year", 73527.7) == "73,528"
    assert cell("reduction_pct", 7.26) == "7.3" and cell("days", 365.0) == "365" and cell("x", None) == "-"
    frame = pd.DataFrame({"cycles_per_day": [1.979], "note": ["[soc_min, soc_max]"]},
                         index=pd.Index(["a_strategy_with_a_long_name_that_must_not_be_cut"], name="strategy"))
    console = Console(width=60, record=True)
    console.print(rich_table(frame, "title [with brackets]"))
    text = console.export_text()
    assert "[soc_min, soc_max]" in text and "[with brackets]" in text and "1.98" in text
    assert all(part in text for part in ("a_strategy_with_a_long", "_name_that_must_not_be", "_cut"))
    assert "…" not in text  # folded, never cut


def test_help_keeps_units_in_brackets():
    from experiments.cli import app

    deploy = CliRunner().invoke(app, ["deploy", "--help"]).output
    sweep = CliRunner().invoke(app, ["sweep", "--help"]).output
    assert "Control cycle [s]" in deploy and "bessgym[ray]" in sweep


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_names_config_problems(tmp_path):
    from experiments.cli import app

    path = tmp_path / "c.yaml"
    path.write_text("train:\n  total_steps: 0\n")
    result = CliRunner().invoke(app, ["train", "--config", str(path)])
    assert result.exit_code == 2
    assert "train.total_steps" in result.output and "greater than or equal to 1" in result.output
    result = CliRunner().invoke(app, ["evaluate", "--set", "battery.power_mw"])
    assert result.exit_code == 2 and "expected key=value" in result.output
    path.write_text("# nothing but a comment\n")  # an empty file runs no defaults without a word
    result = CliRunner().invoke(app, ["run", "--config", str(path)])
    assert result.exit_code == 2 and "c.yaml: the configuration is empty" in result.output
    for command in (["benchmark", "run", "--seeds", "0"], ["benchmark", "tune", "--task", "intraday-2h",
                                                           "--trials", "0"]):
        result = CliRunner().invoke(app, command)  # 0 seeds was the default 3, 0 trials a raw error
        assert result.exit_code == 2 and "greater than or equal to 1" in result.output, result.output


def test_shipped_configs_and_grids_validate():
    from experiments.sweep import grid_points, load_grid

    folder = Path(__file__).resolve().parents[1] / "experiments" / "configs"
    assert load_config(folder / "intraday_ppo.yaml") == ExperimentConfig()  # the defaults written out
    main = load_config(folder / "intraday_clone.yaml")  # the main job: the clone, and PPO as its RL baseline
    assert main.train.clone_from == "lp" and main.train.algorithm == "maskable_ppo"
    assert main.rl_baseline_config().train.algorithm == "ppo" and main.rl_baseline_config().train.clone_from is None
    assert {"trained", "rl_baseline"} <= set(main.evaluate.strategies)
    assert load_config(folder / "intraday_sac.yaml").train.algorithm == "sac"
    assert len(grid_points(ExperimentConfig(), load_grid(folder / "sweep_battery.yaml"))) == 6


def test_sac_agent_saves_loads_and_exports(tmp_path, small):
    from agents.rl import OnnxAgent, RLAgent, build_model, make_vec_env

    market = MarketArrays.from_frame(small.eval_market.load())
    venv = make_vec_env(lambda: make_env(small, market), 1, seed=0)
    model = build_model("sac", venv, seed=0, learning_starts=50, buffer_size=1_000, batch_size=32)
    model.learn(150)
    agent = RLAgent(model, venv, algorithm="sac")
    loaded = RLAgent.load(agent.save(tmp_path / "sac"))
    exported = OnnxAgent(agent.export_onnx(tmp_path / "sac" / "policy.onnx"))
    obs = venv.get_original_obs()[0]
    info = {"stage": "delivery", "action_mask": np.ones(9, bool)}
    np.testing.assert_allclose(loaded.act(obs, info), agent.act(obs, info), atol=1e-6)
    np.testing.assert_allclose(exported.act(obs), agent.act(obs, info), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="not a saved RL agent"):
        RLAgent.load(tmp_path)


def test_sweep_on_a_local_ray_cluster(tmp_path, tracking, small, monkeypatch):
    """Two points as Ray tasks on a local cluster the sweep starts (and shuts down); a failing point is reported
    and the other logged to this test's MLflow store."""
    import sys

    ray = pytest.importorskip("ray")
    from experiments.sweep import sweep

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    base = small.with_overrides({"evaluate.strategies": ["lp", "idle"], "evaluate.days": 1, "name": "test-ray"})
    missing = {"path": str(tmp_path / "missing.parquet")}
    grid = {"eval_market": [small.eval_market.model_dump(mode="json"), missing]}
    results = sweep(base, grid, tmp_path / "ray", workers=2, backend="ray")
    assert not ray.is_initialized()
    assert list(results["status"]) == ["ok", "failed"] and "missing.parquet" in results.loc[1, "error"]
    assert results.loc[0, "lp_eur_per_mw_year"] > 0
    logged = mlflow.search_runs(experiment_names=["test-ray"], output_format="pandas")
    assert results.loc[0, "run_id"] in set(logged["run_id"])  # the worker wrote to this store
    monkeypatch.setitem(sys.modules, "ray", None)  # not installed: a clear message
    with pytest.raises(RuntimeError, match=r"pip install 'bessgym\[ray\]'"):
        sweep(base, {"battery.energy_mwh": [4.0]}, tmp_path / "none", backend="ray")


def test_main_job_command_end_to_end(tmp_path, tracking):
    """``bessgym run`` (the main job behind ``make run``) on a short configuration: calibration, index, training,
    evaluation, comparison."""
    from experiments.cli import app

    sets = [f"{k}={v}" for k, v in {**SMALL, "train.total_steps": 512, "name": "test-main"}.items()
            if not isinstance(v, dict)] + ["train.hyperparameters={n_steps: 128, batch_size: 64}",
                                           "train.eval_every_steps=256"]
    args = ["run", "--out", str(tmp_path / "main")]
    for item in sets:
        args += ["--set", item]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    comparison = pd.read_csv(tmp_path / "main" / "evaluate" / "comparison.csv", index_col=0)
    strategies = {"trained", "lp", "lp_noisy", "price_threshold", "time_of_day", "idle", "index: trading"}
    assert strategies <= set(comparison.index)
    assert comparison.loc["lp", "share_of_pf_lp"] == pytest.approx(1.0)
    assert (tmp_path / "main" / "train" / "model" / "policy.onnx").exists()
    assert (tmp_path / "main" / "calibration.csv").exists() and (tmp_path / "main" / "index" / "daily.csv").exists()
    assert "4/4 evaluating every strategy" in result.output


# ------------------------------------------------------------------------------- researcher's view


def test_evaluation_writes_the_dispatch_table_and_the_comparison_chart(trained):
    _, report, _ = trained
    dispatch = pd.read_parquet(report.out / "lp" / "dispatch.parquet")
    revenue = pd.read_csv(report.out / "lp" / "revenue.csv", index_col=0)
    cash = dispatch[[c for c in dispatch.columns if c.startswith("cash_")]].to_numpy().sum()
    assert len(dispatch) == 3 * 96 and cash == pytest.approx(revenue["total"].sum(), rel=1e-9)
    assert (report.out / "comparison.png").exists() and report.period.endswith("(3 days)")
    strategies = [s for s in report.comparison.index if not s.startswith("index: ")]
    values = report.comparison.loc[strategies, "annualised_eur_per_mw_year"]
    assert values.is_monotonic_decreasing  # best first


def test_baselines_are_cached_per_market_battery_and_env(small, tracking, tmp_path, monkeypatch):
    from experiments import baselines
    from experiments.evaluate import evaluation_period

    period, market = evaluation_period(small, small.eval_market.load())
    first = baselines.index(small, period), baselines.perfect_lp(small, period, market)
    monkeypatch.setattr(baselines, "index_baseline", lambda *a: pytest.fail("the index was computed again"))
    monkeypatch.setattr(baselines, "evaluate_strategies", lambda *a, **k: pytest.fail("the LP was run again"))
    again = baselines.index(small, period), baselines.perfect_lp(small, period, market)
    pd.testing.assert_frame_equal(first[0].daily, again[0].daily)
    pd.testing.assert_frame_equal(first[1].dispatch, again[1].dispatch)
    assert again[1].reward_eur == first[1].reward_eur
    other = small.with_overrides({"battery.energy_mwh": 4.0})  # another battery: another key
    with pytest.raises(pytest.fail.Exception, match="computed again"):
        baselines.index(other, period)
    # changed code (the LP's or the env's source) is another key: no stale reference
    monkeypatch.setattr(baselines, "source_digest", lambda: "another source")
    with pytest.raises(pytest.fail.Exception, match="run again"):
        baselines.perfect_lp(small, period, market)


def test_rules_that_cannot_act_are_marked_not_applicable(small):
    from experiments.evaluate import evaluated_strategies, not_applicable
    from experiments.report import comparison_table

    day_ahead = small.with_overrides({"env.products": ["day_ahead", "afrr_capacity"],
                                      "env.agent_stages": ["capacity", "day_ahead"],
                                      "evaluate.strategies": ["lp", "price_threshold", "idle"]})
    assert "intraday" in not_applicable("price_threshold", day_ahead)
    assert evaluated_strategies(day_ahead) == ["lp", "idle"]
    metrics = {"lp": {"annualised_eur_per_mw_year": 100.0}, "idle": {"annualised_eur_per_mw_year": 0.0}}
    table = comparison_table(metrics, pd.Series({"fcr": 120.0}), {"price_threshold": "why"})
    assert table.loc["price_threshold", "note"] == "not applicable: why"
    assert pd.isna(table.loc["price_threshold", "annualised_eur_per_mw_year"])  # not a zero


def test_a_product_the_table_lacks_names_the_config_key(small):
    from experiments.config import ConfigError
    from experiments.evaluate import make_env

    table = small.eval_market.load().drop(columns=["id1_price"])
    with pytest.raises(ConfigError, match=r"env\.products: 'intraday' needs column 'id1_price'.*--set"):
        make_env(small, MarketArrays.from_frame(table))


def test_lp_schedule_is_what_deploy_reads(small, tmp_path):
    import datetime as dt

    from bessgym.control.runner import Schedule
    from experiments.deploy import lp_schedule

    market = small.eval_market.load()
    plan = lp_schedule(small, market, dt.date(2025, 3, 4), 2)
    path = tmp_path / "lp_schedule.csv"
    plan.to_csv(path, index=False)
    schedule = Schedule.read_csv(path)
    assert len(plan) == 2 * 96 and schedule.power_w == pytest.approx(plan["power_mw"].to_numpy() * 1e6)
    assert plan["timestamp"].iloc[0] == "2025-03-03T23:00:00Z"  # Berlin midnight, in UTC
    assert plan["soc_pct"].between(-1e-6, 100 + 1e-6).all()
    moved = plan["day_ahead_mw"] + plan["intraday_mw"]
    assert np.allclose(plan["power_mw"], moved, atol=1e-6)  # no reserves here: power is what was traded


def test_progress_in_logs_says_count_rate_and_time_left(monkeypatch):
    """The time left comes from the pace since the first unit done: set-up before it (cloning before RL took
    minutes and made the first ETA of a cloned learner hours long) is not work the rest repeats."""
    from rich.console import Console

    from experiments import progress

    clock = [100.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    console = Console(record=True, width=200)
    log = progress.LogProgress(console, "training PPO", 1000, "steps", every_s=0.0)
    clock[0] += 60.0  # a minute of set-up, then the first 100 steps are reported
    log.update(100)
    clock[0] += 10.0  # 150 more in 10 s: 15 steps/s, so 750 left take 50 s
    log.update(250)
    first, second = console.export_text().splitlines()
    assert first == "training PPO: 100/1,000 steps (10.0%), 1.7 steps/s, elapsed 1m 00s"  # no pace yet: no ETA
    assert second == "training PPO: 250/1,000 steps (25.0%), 3.6 steps/s, elapsed 1m 10s, ETA 50s"
    assert progress.duration(3725) == "1h 02m" and progress.duration(200) == "3m 20s"


def test_dispatch_split_by_market_adds_up_and_shows_only_reserves_held():
    from experiments.plots import carried_by_market, reserves_held

    index = pd.date_range("2025-01-01", periods=4, freq="15min", tz="UTC")
    d = pd.DataFrame({"day_ahead_mw": [1.0, 0, 0, -1], "ida_mw": 0.0, "intraday_mw": [0, 0.5, 0, 0],
                      "reserve_mwh": [0, 0, 0.1, 0], "power_mw": [1.0, 0.5, 0.3, -1], "fcr_mw": 0.0,
                      "afrr_pos_mw": [0, 0, 1.0, 0], "afrr_neg_mw": 0.0}, index=index)
    parts = carried_by_market(d)
    assert np.allclose(parts.sum(axis=1), d["power_mw"])
    assert parts.loc[index[2], "activation_mw"] == pytest.approx(0.4)
    assert parts.loc[index[2], "other_mw"] == pytest.approx(-0.1)  # the schedule gave way
    assert [c for c, _, _ in reserves_held(d)] == ["afrr_pos_mw"]
