"""Concurrent load on one ``mlflow server`` backed by PostgreSQL: four tuning workers on one
Optuna study and two training runs, all at once. Every process must succeed with no lock or
integrity error, and every trial, run, metric and model version must be there exactly once."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import optuna
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TINY = ["--hidden_dim", "8", "--latent_dim", "4", "--eval_sample", "500", "--plots", "false"]
BAD = ("locked", "IntegrityError", "deadlock", "Traceback", "OperationalError", "UniqueViolation", "error:")


def _start(args, server, cwd) -> subprocess.Popen:
    env = {**os.environ, "MLFLOW_TRACKING_URI": server, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_RUN_ID", None)
    return subprocess.Popen([sys.executable, "-m", "ganflow", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_four_tuning_workers_and_two_trainings_at_once(postgres, pg_mlflow_server, sample_file, tmp_path):
    storage = f"{postgres}/optuna"
    tune = ["tune", "--trace_path", str(sample_file), "--storage", storage, "--study_name", "load", "--n_trials", "8",
            "--epochs_per_trial", "2", "--pruner", "none", "--eval_every", "1", "--register_as", "trace-gan-load",
            "--save_dir", str(tmp_path / "ck"), *TINY]
    first = _start([*tune, "--create-only"], pg_mlflow_server, tmp_path)
    assert first.wait(180) == 0, first.stdout.read()

    train = ["train", "--trace_path", str(sample_file), "--num_epochs", "2", "--experiment", "load-train",
             "--register_as", "trace-gan-trained", "--save_dir", str(tmp_path / "ck"), *TINY]
    procs = [_start([*tune, "--sampler_seed", str(k)], pg_mlflow_server, tmp_path) for k in range(4)]
    procs += [_start([*train, "--seed", str(k)], pg_mlflow_server, tmp_path) for k in range(2)]
    outputs = [p.communicate(timeout=1200)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
        for bad in BAD:
            assert bad not in out, f"{bad!r} in:\n{out[-3000:]}"

    study = optuna.load_study(study_name="load", storage=storage)
    assert len(study.trials) >= 8
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)  # none failed, none stuck RUNNING
    client = mlflow.MlflowClient(pg_mlflow_server)
    mlflow.set_tracking_uri(pg_mlflow_server)
    try:
        runs = mlflow.search_runs(experiment_names=["trace-gan-tune"], output_format="list",
                                  filter_string="tags.optuna_study = 'load'")
        parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert len(parents) == 4
        assert sorted(int(r.data.tags["optuna_trial"]) for r in children) == sorted(t.number for t in study.trials)
        assert all(r.info.status == "FINISHED" for r in runs)
        for r in children:  # every epoch's losses arrived
            assert [m.step for m in client.get_metric_history(r.info.run_id, "d_loss")] == [1, 2]
        best_key = f"load/{study.best_trial.number}"
        tuned = client.search_model_versions("name='trace-gan-load'")
        assert [v.tags.get("optuna_trial_key") for v in tuned].count(best_key) == 1
        assert client.get_model_version_by_alias("trace-gan-load", "champion").tags["optuna_trial_key"] == best_key

        trained = mlflow.search_runs(experiment_names=["load-train"], output_format="list")
        assert len(trained) == 2 and all(r.info.status == "FINISHED" for r in trained)
        versions = client.search_model_versions("name='trace-gan-trained'")
        assert sorted(int(v.version) for v in versions) == [1, 2]
        assert {v.run_id for v in versions} == {r.info.run_id for r in trained}
        for r in trained:
            assert [m.step for m in client.get_metric_history(r.info.run_id, "d_loss")] == [1, 2]
    finally:
        mlflow.set_tracking_uri(None)
