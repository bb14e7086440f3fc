"""Tuning on the embedded stores (fast): nested runs, pruning, resume, champion logic."""

from __future__ import annotations

import mlflow
import optuna
import pytest
from click.testing import CliRunner

from ganflow.cli import main
from training.config import TraceGANConfig
from training.errors import ConfigError
from tuning.space import SearchSpace

TINY = ["--hidden_dim", "8", "--latent_dim", "4", "--eval_every", "1", "--eval_sample", "500",
        "--sampler_seed", "3", "--epochs_per_trial", "2"]


def tune(sample_file, tmp_path, *extra):
    return CliRunner().invoke(main, ["tune", "--trace_path", str(sample_file), "--save_dir", str(tmp_path / "ck"),
                                     *TINY, *extra], catch_exceptions=False)


def test_study_nested_runs_best_params_and_champion(tracking_uri, tmp_path, sample_file):
    res = tune(sample_file, tmp_path, "--n_trials", "3", "--pruner", "none", "--register_as", "tuned-gan")
    assert res.exit_code == 0, res.output
    assert "3 finished trials" in res.output and "@champion" in res.output
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"  # beside the MLflow store
    study = optuna.load_study(study_name="trace-gan", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3
    runs = mlflow.search_runs(experiment_names=["trace-gan-tune"], output_format="list")
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 3
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parents[0].info.run_id}
    assert sorted(int(r.data.tags["optuna_trial"]) for r in children) == [0, 1, 2]
    assert all(r.data.tags["trial_state"] == "COMPLETE" for r in children)
    best = study.best_trial
    params = parents[0].data.params
    assert params["best_d_g_ratio"] == best.params["d_g_ratio"] and float(params["best_lr_g"]) == best.params["lr_g"]
    child = next(r for r in children if r.data.tags["optuna_trial"] == str(best.number))
    # the objective is the logged generator's val_mmd2: the kept epoch's, after its calibration
    assert child.data.metrics["calibrated_val_mmd2"] == pytest.approx(best.value)
    version = mlflow.MlflowClient().get_model_version_by_alias("tuned-gan", "champion")
    assert version.tags["optuna_trial_key"] == f"trace-gan/{best.number}"
    assert len(mlflow.MlflowClient().search_model_versions("name='tuned-gan'")) == 1  # trials never register
    assert [m.name for m in mlflow.MlflowClient().search_registered_models()] == ["tuned-gan"]

    # running again resumes the same study: 2 more trials, and the new best only becomes champion if it wins
    res = tune(sample_file, tmp_path, "--n_trials", "5", "--pruner", "none", "--register_as", "tuned-gan")
    assert "5 finished trials" in res.output
    study = optuna.load_study(study_name="trace-gan", storage=storage)
    assert len(study.trials) == 5
    versions = mlflow.MlflowClient().search_model_versions("name='tuned-gan'")
    assert len(versions) == (1 if study.best_trial.number == best.number else 2)


def test_median_pruner_prunes_and_marks_runs(tracking_uri, tmp_path, sample_file):
    res = tune(sample_file, tmp_path, "--n_trials", "6", "--epochs_per_trial", "4", "--study_name", "prune")
    assert res.exit_code == 0, res.output
    study = optuna.load_study(study_name="prune", storage=f"sqlite:///{tmp_path / 'optuna.db'}")
    states = [t.state for t in study.trials]
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert len(states) == 6 and pruned, states
    runs = {r.data.tags.get("optuna_trial"): r for r in mlflow.search_runs(experiment_names=["trace-gan-tune"],
                                                                          output_format="list")}
    for t in pruned:
        run = runs[str(t.number)]
        assert run.info.status == "FINISHED" and run.data.tags["trial_state"] == "PRUNED"
        assert t.user_attrs["epochs"] < 4


def test_tune_inside_an_mlflow_run_job(tracking_uri, tmp_path, sample_file, monkeypatch):
    """As under `mlflow run . -e tune`: the run exists and already holds the entry point's params."""
    exp = mlflow.create_experiment("job")
    run = mlflow.MlflowClient().create_run(exp)
    mlflow.MlflowClient().log_param(run.info.run_id, "storage", "''")
    monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
    res = tune(sample_file, tmp_path, "--n_trials", "2", "--pruner", "none", "--study_name", "job")
    assert res.exit_code == 0, res.output
    children = mlflow.search_runs(experiment_ids=[exp], output_format="list", filter_string="tags.optuna_study = 'job'")
    assert {r.data.tags.get("mlflow.parentRunId") for r in children if r.info.run_id != run.info.run_id} == {run.info.run_id}
    assert mlflow.get_run(run.info.run_id).data.params["storage_resolved"].endswith("optuna.db")


def test_search_space_yaml(tmp_path):
    (tmp_path / "s.yaml").write_text("ratios: ['1:2']\nbatch_size: [64]\nseq_len: []\nhidden_dim: [32, 64]\n")
    space = SearchSpace.from_yaml(tmp_path / "s.yaml")
    assert space.ratios == ("1:2",) and space.seq_len == () and space.hidden_dim == (32, 64)
    (tmp_path / "bad.yaml").write_text("ratio: ['1:2']\n")
    with pytest.raises(ConfigError, match="unknown search-space keys \\['ratio'\\]"):
        SearchSpace.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match="'D:G'"):
        SearchSpace(ratios=("2-1",))
    (tmp_path / "enc.yaml").write_text("continuous: [quantile, normal]\n")
    space = SearchSpace.from_yaml(tmp_path / "enc.yaml")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    picked = {space.suggest(study.ask(), TraceGANConfig()).continuous for _ in range(20)}
    assert picked == {"quantile", "normal"}  # the encoding is searched when the YAML asks
    assert SearchSpace().suggest(study.ask(), TraceGANConfig()).continuous == "quantile"  # and left alone otherwise
    with pytest.raises(ConfigError, match="continuous choices must be among log, quantile, normal"):
        SearchSpace(continuous=("box-cox",))


def test_locality_knobs_are_searched_where_they_apply():
    from dataclasses import replace

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    trials = [study.ask() for _ in range(30)]
    configs = [SearchSpace().suggest(t, TraceGANConfig()) for t in trials]
    assert {c.reuse_buckets for c in configs} == {4, 8, 16} and {c.join_windows for c in configs} == {0, 1}
    assert {c.moment_weight for c in configs} == {0.0, 1.0}
    seed = study.ask()
    assert SearchSpace().suggest(seed, TraceGANConfig(feature_mode="absolute", log1p=())).moment_weight == 0.0
    assert "moment_weight" not in seed.params
    asked = SearchSpace(window_weight=(0.0, 1.0))
    assert {asked.suggest(t, TraceGANConfig()).window_weight for t in [study.ask() for _ in range(20)]} \
        == {0.0, 1.0}  # searched when the YAML asks
    assert {c.window_weight for c in configs} == {0.0}  # and left at the default otherwise
    levels = SearchSpace(levels=(True, False))
    assert {levels.suggest(t, TraceGANConfig()).levels for t in [study.ask() for _ in range(20)]} == {True, False}
    assert {c.levels for c in configs} == {TraceGANConfig().levels}
    phased = SearchSpace(phases=(True, False))
    assert {phased.suggest(t, TraceGANConfig()).phases for t in [study.ask() for _ in range(20)]} == {True, False}
    trial = study.ask()
    assert levels.suggest(trial, replace(TraceGANConfig(), carry_state=False)).levels == TraceGANConfig().levels
    assert "levels" not in trial.params  # without carried streams there is no level to fit
    windows = replace(TraceGANConfig(), feature_mode="delta", carry_state=False)
    trial = study.ask()
    c = SearchSpace().suggest(trial, windows)
    assert (c.reuse_buckets, c.join_windows) == (8, 0) and not {"reuse_buckets", "join_windows"} & set(trial.params)
    space = SearchSpace(calibrate_address=(True, False))  # searched only when asked, and where it applies
    assert {space.suggest(t, TraceGANConfig()).calibrate_address for t in (study.ask() for _ in range(20))} == {True, False}
    trial = study.ask()
    assert space.suggest(trial, windows).calibrate_address is True and "calibrate_address" not in trial.params
    assert "calibrate_address" not in trials[0].params  # the default space leaves it alone
    space = SearchSpace(locality=("lru", "lru-pages"), calibrate_by_action=(True, False))
    picked = [space.suggest(t, TraceGANConfig()) for t in (study.ask() for _ in range(20))]
    assert {c.locality for c in picked} == {"lru", "lru-pages"} and {c.calibrate_by_action for c in picked} == {True, False}
    trial = study.ask()
    assert space.suggest(trial, windows).locality == windows.locality and "locality" not in trial.params
    assert not {"locality", "calibrate_by_action"} & set(trials[0].params)
    with pytest.raises(ConfigError, match="locality choices must be among lru, lru-pages, but got \\['none'\\]"):
        SearchSpace(locality=("none",))
    space = SearchSpace(slow_noise=(0, 3), noise_skip=(True, False), sticky_heads=(True, False))
    picked = [space.suggest(t, TraceGANConfig()) for t in (study.ask() for _ in range(20))]
    assert {c.slow_noise for c in picked} == {0, 3} and {c.noise_skip for c in picked} == {True, False}
    assert {c.sticky_heads for c in picked} == {True, False}
    trial = study.ask()
    assert space.suggest(trial, windows).slow_noise == TraceGANConfig().slow_noise and "slow_noise" not in trial.params
    assert "sticky_heads" not in trial.params  # windows sampled independently: nothing carried
    assert not {"slow_noise", "noise_skip", "sticky_heads"} & set(trials[0].params)


def test_loss_diagnosis():
    from training.diagnostics import diagnose

    h = lambda d, g: [{"d_loss": d, "g_loss": g}] * 3  # noqa: E731
    assert diagnose(h(0.02, 5.0)) == "d_wins"
    assert diagnose(h(1.6, 0.1)) == "g_wins"
    assert diagnose(h(1.3863, 0.6932)) == "stuck"
    assert diagnose(h(1.2, 0.8)) == "healthy"
    assert diagnose(h(0.02, 5.0)[:2]) == "healthy"  # too early to tell
