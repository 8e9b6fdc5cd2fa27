"""The benchmark suite: every task builds and runs each baseline, results round-trip, the leaderboard is made
from the written results, the configuration selects each env kind, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pytest
from stable_baselines3 import PPO
from typer.testing import CliRunner

from bessgym.envs.colocated import CoLocatedPVBESSEnv
from bessgym.envs.portfolio import PortfolioEnv, default_portfolio
from bessgym.envs.portfolio_agents import PortfolioParallelEnv
from bessgym.envs.portfolio_per_asset import PortfolioPerAssetEnv
from bessgym.envs.single_bess import SingleBESSEnv
from experiments import benchmark
from experiments.config import ConfigError, ExperimentConfig, load_config
from experiments.evaluate import evaluate_strategies, evaluation_period, make_env
from experiments.tasks import CLONE_FINE_TUNING_STEPS, TASKS, task

CONFIGS = Path(__file__).resolve().parents[1] / "experiments" / "configs"


@pytest.fixture(scope="module")
def suite(tmp_path_factory, tracking):
    """Every baseline of every task on one test day (capacity-2h: its week), seed 0."""
    out = tmp_path_factory.mktemp("benchmark")
    for t in TASKS.values():
        for agent in t.baselines:
            benchmark.run(t, agent, [0], out, days=1)
    return out


def test_every_task_runs_every_baseline_and_its_results_round_trip(suite):
    results = benchmark.load_results(suite)
    assert {(r["task"], r["agent"]) for r in results} == {(t.id, a) for t in TASKS.values() for a in t.baselines}
    for r in results:
        m = r["metrics"]
        assert r["days"] == 1 and r["seed"] == 0 and r["code_version"]
        assert json.loads((suite / r["task"] / r["agent"] / "seed_0.json").read_text()) == r
        if r["agent"] == "lp":
            assert m["share_of_pf_lp"] == pytest.approx(1.0)
        if r["agent"] == "idle" and r["task"] in ("intraday-2h-v0", "multimarket-2h-v3", "capacity-2h-v3"):
            assert m["annualised_eur_per_mw_year"] == 0.0  # a battery alone earns nothing idle
        assert r["power_mw"] == pytest.approx(_power_mw(r["task"]))
        assert m["annualised_eur_per_mw_year"] == pytest.approx(m["revenue_eur"] * 365 / r["power_mw"])
        assert np.isfinite(m["cycles_per_day"]) and m["penalties_eur_per_mw_year"] >= 0
    logged = mlflow.search_runs(experiment_names=["benchmark-intraday-2h-v0"], output_format="pandas")
    assert set(logged["tags.agent"]) == set(task("intraday-2h").baselines)
    assert set(logged["tags.kind"]) == {"benchmark"}


def _power_mw(task_id: str) -> float:
    if task_id == "portfolio-6-v2":
        return sum(s.battery.power_mw for s in default_portfolio())
    if task_id == "portfolio-100-v2":
        return sum(s.battery.power_mw for s in task("portfolio-100").config().portfolio.sites(
            ExperimentConfig().battery))
    return 1.0


def test_lp_beats_the_rules_on_every_task(suite):
    results = {(r["task"], r["agent"]): r["metrics"]["annualised_eur_per_mw_year"]
               for r in benchmark.load_results(suite)}
    for t in TASKS.values():
        for rule in ("price_threshold", "time_of_day", "idle"):
            if rule in t.baselines:
                assert results[(t.id, "lp")] > results[(t.id, rule)], (t.id, rule)


def test_leaderboard_is_made_from_the_results_mean_and_std_over_seeds(tmp_path, tracking):
    t = task("intraday-2h")
    benchmark.run(t, "price_threshold", [0, 1], tmp_path, days=1)
    benchmark.run(t, "lp", [0], tmp_path, days=1)
    results = benchmark.load_results(tmp_path)
    table = benchmark.leaderboard(results)
    row = table[table["agent"] == "price_threshold"].iloc[0]
    values = [r["metrics"]["annualised_eur_per_mw_year"] for r in results if r["agent"] == "price_threshold"]
    assert row["seeds"] == 2
    assert row["annualised_eur_per_mw_year_mean"] == pytest.approx(np.mean(values))
    assert row["annualised_eur_per_mw_year_std"] == pytest.approx(np.std(values, ddof=1))
    assert table["agent"].tolist() == ["lp", "price_threshold"]  # best first
    assert (table["train_steps"] == 0).all() and table["train_min_mean"].isna().all()  # baselines do not train
    learned = [{**results[0], "agent": "ppo", "seed": k, "train_steps": 256, "train_s": 60.0 * (k + 1)} for k in (0, 1)]
    ppo = benchmark.leaderboard(learned).iloc[0]
    assert (ppo["train_steps"], ppo["train_min_mean"], ppo["train_min_std"]) == (256, 1.5, pytest.approx(0.5 ** 0.5))
    assert benchmark.formatted(benchmark.leaderboard(learned))[["RL steps", "training min"]].values.tolist() == [
        ["256", "1.50 ± 0.71"]]
    csv, md = benchmark.write_table(table, tmp_path, command="bessgym benchmark table")
    text = md.read_text()
    assert "bessgym benchmark table" in text and "intraday-2h-v0" in text and " ± " in text
    assert f"100 % = {t.reference} in the env with perfect foresight" in text  # the reference's definition
    assert csv.exists()
    assert "Above the reference" not in text
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{benchmark.README_START}\nold table\n{benchmark.README_END}\nrest\n")
    benchmark.write_into_readme(readme, text)
    written = readme.read_text()
    assert written.startswith("intro\n") and written.endswith(f"{benchmark.README_END}\nrest\n")
    assert "old table" not in written and text.strip() in written
    readme.write_text("no markers")
    with pytest.raises(ValueError, match="leaderboard:start"):
        benchmark.write_into_readme(readme, text)


def test_a_rerun_keeps_the_results_already_there(tmp_path, tracking, monkeypatch):
    from bessgym.data import synthetic, write_table

    t = task("intraday-2h")
    first = benchmark.run(t, "idle", [0], tmp_path, days=1)
    # a result of the first day is not one of the whole test market (here a table of two days)
    test = tmp_path / "test.parquet"
    write_table(synthetic.generate("2025-05-01", "2025-05-03", seed=4), test)
    [day] = benchmark.run(t, "idle", [0], tmp_path / "users", days=1, test_data=test)
    [whole] = benchmark.run(t, "idle", [0], tmp_path / "users", test_data=test)
    assert (day["days"], day["days_requested"], whole["days"], whole["days_requested"]) == (1, 1, 2, None)
    monkeypatch.setattr(benchmark, "run_one", lambda *a: pytest.fail("a finished result was run again"))
    assert benchmark.run(t, "idle", [0], tmp_path, days=1) == first
    assert benchmark.run(t, "idle", [0], tmp_path / "users", test_data=test) == [whole]
    # a learner's result is kept for the same training only: other steps or another train field train again
    config = t.config(0, days=1, **benchmark.agent_fields("ppo", {}, 256))
    trained = {**first[0], "agent": "ppo", "train_steps": 256, "train": config.train.model_dump(mode="json")}
    path = benchmark.result_path(tmp_path, t, "ppo", 0)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(trained))
    assert benchmark.run(t, "ppo", [0], tmp_path, days=1, train_steps=256) == [trained]
    monkeypatch.setattr(benchmark, "run_one", lambda *a: "trained again")
    assert benchmark.run(t, "ppo", [0], tmp_path, days=1, train_steps=512) == ["trained again"]
    assert benchmark.run(t, "ppo", [0], tmp_path, days=1, train_steps=256,
                         overrides={"train.nearest_capacity_volumes": True}) == ["trained again"]


def test_a_learner_trains_and_is_evaluated_on_a_task(tmp_path, tracking):
    t = task("portfolio-6")
    [result] = benchmark.run(t, "ppo", [0], tmp_path, days=1, train_steps=256)
    assert result["train_steps"] == 256 and result["train_s"] > 0
    assert (tmp_path / t.id / "ppo" / "seed_0_train" / "model" / "policy.onnx").exists()
    assert np.isfinite(result["metrics"]["share_of_pf_lp"])
    assert not {"bc_ppo", "bc_maskable_ppo"} & set(t.agents)  # its LPs decide per asset: no clone of the pooled action
    [per_asset] = benchmark.run(t, "ppo_per_asset", [0], tmp_path, days=1, train_steps=256)
    width = {agent: PPO.load(tmp_path / t.id / agent / "seed_0_train" / "model" / "model.zip").action_space.shape[0]
             for agent in ("ppo", "ppo_per_asset")}
    assert width["ppo_per_asset"] == 6 * width["ppo"]  # a row per asset of the six
    assert np.isfinite(per_asset["metrics"]["share_of_pf_lp"])
    [cloned] = benchmark.run(task("intraday-2h"), "bc_ppo", [0], tmp_path, days=1, train_steps=256,
                             overrides={"train.clone_days": 60})
    history = mlflow.MlflowClient().get_metric_history(
        mlflow.search_runs(experiment_names=["benchmark-intraday-2h-v0"], filter_string="tags.kind = 'train'",
                           output_format="list")[0].info.run_id, "bc/loss")
    assert len(history) == 20 and history[-1].value < history[0].value  # 20 epochs, the loss falls
    assert cloned["metrics"]["share_of_pf_lp"] > 0.25  # the clone trades (0.42 measured); untrained: about 0


def test_unknown_task_and_agent_are_named():
    with pytest.raises(KeyError, match="intraday-2h-v0"):
        task("intraday-4h")
    with pytest.raises(ValueError, match="lp_per_asset"):
        benchmark.check_agent(task("intraday-2h"), "lp_per_asset")


def test_the_config_selects_each_env_kind():
    market = evaluation_period(ExperimentConfig(), ExperimentConfig().eval_market.load())[1]
    kinds = {"single": SingleBESSEnv, "colocated": CoLocatedPVBESSEnv, "portfolio": PortfolioEnv}
    for kind, cls in kinds.items():
        env = make_env(ExperimentConfig().with_overrides({"env.kind": kind}), market)
        assert isinstance(env, cls)
    config = load_config(CONFIGS / "portfolio.yaml")
    env = make_env(config, market, parallel=True)
    assert isinstance(env, PortfolioParallelEnv)
    assert [s.battery.power_mw for s in env.sites] == [10.0, 2.0, 0.6, 0.4, 10.0, 3.0]
    assert env.sites[5].grid_limit_mw == 4.0 and env.sites[5].pv_mwp == 6.0
    assert env.sites[0].battery.max_cycles_per_day == config.battery.max_cycles_per_day
    # a learner's env: per asset where asked (the LPs and rules keep the pooled one), with backed energy offers
    per_asset = config.with_overrides({"train.per_asset": True})
    assert isinstance(make_env(per_asset, market, learner=True), PortfolioPerAssetEnv)
    assert type(make_env(per_asset, market)) is PortfolioEnv
    assert type(make_env(config, market, learner=True)) is PortfolioEnv
    learner, baseline = (make_env(ExperimentConfig(), market, learner=learner).unwrapped.simulator.config
                         for learner in (True, False))
    assert learner.energy_only_backed and not learner.capacity_volumes_nearest
    assert not baseline.energy_only_backed and not baseline.capacity_volumes_nearest
    other = ExperimentConfig().with_overrides({"train.backed_energy_offers": False,
                                               "train.nearest_capacity_volumes": True})
    learner, baseline = (make_env(other, market, learner=learner).unwrapped.simulator.config
                         for learner in (True, False))
    assert not learner.energy_only_backed and learner.capacity_volumes_nearest
    assert not baseline.capacity_volumes_nearest
    with pytest.raises(ConfigError, match="train.per_asset"):
        ExperimentConfig().with_overrides({"train.per_asset": True})
    site = load_config(CONFIGS / "colocation.yaml")
    assert make_env(site, market).site.pv_mwp == 1.0
    with pytest.raises(ConfigError, match="portfolio.assets"):
        ExperimentConfig().with_overrides({"portfolio.assets": [{"power_mw": -1, "energy_mwh": 1}]})


def test_portfolio_evaluation_sums_every_asset():
    """The per-asset LP on a portfolio: the recorded cash flows of all assets are what the env paid."""
    config = load_config(CONFIGS / "portfolio.yaml").with_overrides(
        {"evaluate.days": 1, "evaluate.strategies": ["lp", "lp_per_asset", "idle"]})
    _, market = evaluation_period(config, config.eval_market.load())
    for strategy, evaluation in evaluate_strategies(config, market).items():
        assert evaluation.daily()["total"].sum() == pytest.approx(evaluation.reward_eur, abs=1e-6), strategy
        assert evaluation.power_mw == pytest.approx(26.0)


def test_cli_quick_suite_subset_and_table(tmp_path, tracking):
    from experiments.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["benchmark", "run", "--task", "intraday-2h", "--agent", "idle", "--seeds", "1",
                                 "--days", "1", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "intraday-2h-v0" in result.output and (tmp_path / "leaderboard.md").exists()
    result = runner.invoke(app, ["benchmark", "run", "--task", "intraday-2h", "--agent", "lp_per_asset",
                                 "--out", str(tmp_path)])
    assert result.exit_code == 2 and "not a baseline of task intraday-2h-v0" in result.output
    result = runner.invoke(app, ["benchmark", "table", "--out", str(tmp_path / "empty")])
    assert result.exit_code == 2 and "no benchmark results" in result.output


def test_tune_scores_trials_on_the_training_markets_end_and_logs_each(tmp_path, tracking):
    from experiments.tune import tune, validation_config

    config = validation_config(task("intraday-2h"), "ppo", validation_days=3, train_steps=256)
    assert config.eval_market.start.isoformat() == "2024-12-29" == config.train_market.end.isoformat()
    assert config.eval_market.synthetic_seed == config.train_market.synthetic_seed == 0  # never the test market
    study = tune(task("intraday-2h"), "ppo", tmp_path, trials=1, train_steps=256, validation_days=3)
    assert len(study.trials) == 1
    again = tune(task("intraday-2h"), "ppo", tmp_path, trials=1, train_steps=256, validation_days=3)
    assert len(again.trials) == 2  # the study resumes from its folder
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["validation_eur_per_mw_year"] == again.best_value
    assert set(best["hyperparameters"]) >= {"learning_rate", "n_steps", "gamma"}
    runs = mlflow.search_runs(experiment_names=["tune-intraday-2h-v0-ppo"], output_format="pandas")
    assert sorted(runs["tags.tune_trial"]) == ["0", "1"]
    assert set(runs["metrics.validation_eur_per_mw_year"]) == {t.value for t in again.trials}
    import optuna

    from experiments.tune import search_space

    drawn = {"learning_rate": 3e-4, "gamma": 0.99, "batch_size": 128, "n_steps": 512, "ent_coef": 0.01,
             "clip_range": 0.2, "gae_lambda": 0.95}
    assert search_space("maskable_ppo", optuna.trial.FixedTrial(drawn)) == drawn  # PPO's space


def test_a_task_runs_on_the_users_tables(tmp_path, tracking):
    from bessgym.data import synthetic, write_table

    train, test = tmp_path / "train.parquet", tmp_path / "test.parquet"
    write_table(synthetic.generate("2024-05-01", "2024-05-04", seed=3), train)
    write_table(synthetic.generate("2025-05-01", "2025-05-03", seed=4), test)
    t = task("intraday-2h")
    config = t.config(0, train_data=train, test_data=test)
    assert config.train_market.path == train and config.eval_market.path == test
    [result] = benchmark.run(t, "lp_noisy", [0], tmp_path / "out", train_data=train, test_data=test)
    assert result["days"] == 2 and str(test) in result["test_market"]
    assert result["period"] == "2025-05-01..2025-05-02"  # Berlin delivery days (the first starts at 22:00 UTC)


def test_a_clone_is_fine_tuned_gently_unless_told_otherwise():
    fields = benchmark.agent_fields("bc_maskable_ppo", {"train.hyperparameters": {"n_epochs": 2}}, 1000)
    assert fields["train.algorithm"] == "maskable_ppo" and fields["train.clone_from"] == "lp"
    assert fields["train.hyperparameters"] == {"learning_rate": 1e-4, "n_epochs": 2}
    assert fields["train.total_steps"] == 1000
    told = benchmark.agent_fields("bc_ppo", {"train.hyperparameters": {"learning_rate": 3e-4}}, None)
    assert told["train.hyperparameters"] == {"learning_rate": 3e-4}
    assert told["train.total_steps"] == CLONE_FINE_TUNING_STEPS == 16_384  # a clone's short RL unless told
    plain = benchmark.agent_fields("ppo", {}, None)
    assert "train.clone_from" not in plain and "train.total_steps" not in plain  # the learner's own budget


def test_rows_above_their_reference_are_named_with_why():
    """A share above 100 % over a short period is named in a note, with where the bound is asserted."""
    def result(agent: str, eur: float, share: float) -> dict:
        return {"task": "colocation-1-1-1-v1", "days": 7, "test_market": "synthetic", "agent": agent, "seed": 0,
                "metrics": {"annualised_eur_per_mw_year": eur, "share_of_pf_lp": share}}

    table = benchmark.leaderboard([result("lp", 127_455.0, 1.0), result("lp_bess_priority", 128_512.0, 1.008)])
    note = benchmark.above_reference_note(table)
    assert note.startswith("Above the reference over this period: colocation-1-1-1-v1 lp_bess_priority 100.8% "
                           "(7 days).") and "28 days" in note
    assert benchmark.above_reference_note(table[table["agent"] == "lp"]) is None
