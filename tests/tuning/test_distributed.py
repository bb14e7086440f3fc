"""Two tuning workers on one study in PostgreSQL, tracked by a real mlflow server; SIGKILL and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import mlflow
import optuna
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

TINY = ["--hidden_dim", "8", "--latent_dim", "4", "--eval_every", "1", "--eval_sample", "500",
        "--heartbeat_interval", "1", "--grace_period", "4"]


def worker(sample_file, tmp_path, server, storage, *extra):
    env = {**os.environ, "MLFLOW_TRACKING_URI": server, "PYTHONUNBUFFERED": "1"}
    env.pop("MLFLOW_RUN_ID", None)
    return subprocess.Popen([sys.executable, "-m", "ganflow", "tune", "--trace_path", str(sample_file), "--storage", storage,
                             "--save_dir", str(tmp_path / "ck"), *TINY, *extra], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def test_two_workers_share_one_study(postgres, pg_mlflow_server, sample_file, tmp_path):
    storage = f"{postgres}/optuna"
    common = ["--study_name", "shared", "--n_trials", "6", "--epochs_per_trial", "2", "--pruner", "none"]
    first = worker(sample_file, tmp_path, pg_mlflow_server, storage, *common, "--create-only")
    assert first.wait(120) == 0, first.stdout.read()
    procs = [worker(sample_file, tmp_path, pg_mlflow_server, storage, *common, "--sampler_seed", str(k)) for k in (1, 2)]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    for p, out in zip(procs, outputs):
        assert p.returncode == 0, out[-3000:]
        for bad in ("locked", "IntegrityError", "Traceback", "deadlock"):
            assert bad not in out, out[-3000:]

    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(finished) >= 6 and len(study.trials) == len(finished)
    mlflow.set_tracking_uri(pg_mlflow_server)
    try:
        runs = mlflow.search_runs(experiment_names=["trace-gan-tune"], output_format="list",
                                  filter_string="tags.optuna_study = 'shared'")
        parents = {r.info.run_id for r in runs if "mlflow.parentRunId" not in r.data.tags}
        children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
        assert len(parents) == 2  # one per invocation
        trial_tags = sorted(int(r.data.tags["optuna_trial"]) for r in children)
        assert trial_tags == sorted(t.number for t in study.trials)  # every trial recorded exactly once
        assert all(r.data.tags["mlflow.parentRunId"] in parents for r in children)
        assert all(r.info.status == "FINISHED" for r in runs)
        version = mlflow.MlflowClient().get_model_version_by_alias("trace-gan", "champion")
        keys = [v.tags.get("optuna_trial_key") for v in mlflow.MlflowClient().search_model_versions("name='trace-gan'")]
        assert version.tags["optuna_trial_key"] == f"shared/{study.best_trial.number}"
        assert keys.count(f"shared/{study.best_trial.number}") == 1  # both workers tried; one version survives
    finally:
        mlflow.set_tracking_uri(None)


def _trial_runs(server: str, study: str, number: int) -> list:
    client = mlflow.MlflowClient(tracking_uri=server)
    experiment = client.get_experiment_by_name("trace-gan-tune")
    if experiment is None:
        return []
    return client.search_runs([experiment.experiment_id],
                              filter_string=f"tags.optuna_study = '{study}' and tags.optuna_trial = '{number}'")


def test_sigkill_mid_trial_then_resume(postgres, pg_mlflow_server, sample_file, tmp_path):
    storage = f"{postgres}/optuna"
    common = ["--study_name", "killed", "--n_trials", "3", "--epochs_per_trial", "6", "--pruner", "none",
              "--register_as", ""]
    proc = worker(sample_file, tmp_path, pg_mlflow_server, storage, *common)
    deadline = time.monotonic() + 600
    study = None
    while time.monotonic() < deadline:
        time.sleep(1)
        try:
            study = optuna.load_study(study_name="killed", storage=storage)
        except KeyError:
            continue
        states = [t.state for t in study.trials]
        running = [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
        # kill once the running trial's MLflow run exists: a kill between the two is another story
        if optuna.trial.TrialState.COMPLETE in states and running and _trial_runs(pg_mlflow_server, "killed", running[0]):
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    study = optuna.load_study(study_name="killed", storage=storage)
    done_before = {t.number: t.value for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE}
    running = [t.number for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]
    assert done_before and running
    time.sleep(5)  # past the grace period: the killed trial is stale
    again = worker(sample_file, tmp_path, pg_mlflow_server, storage, *common)
    out = again.communicate(timeout=900)[0]
    assert again.returncode == 0, out[-3000:]
    study = optuna.load_study(study_name="killed", storage=storage)
    by_number = {t.number: t for t in study.trials}
    for number, value in done_before.items():  # no finished trial lost or changed
        assert by_number[number].state == optuna.trial.TrialState.COMPLETE and by_number[number].value == value
    assert all(by_number[n].state == optuna.trial.TrialState.FAIL for n in running)
    assert len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) == 3
    mlflow.set_tracking_uri(pg_mlflow_server)
    try:
        lost = mlflow.search_runs(experiment_names=["trace-gan-tune"], output_format="list",
                                  filter_string=f"tags.optuna_study = 'killed' and tags.optuna_trial = '{running[0]}'")
        assert len(lost) == 1 and lost[0].info.status == "FAILED" and "worker lost" in lost[0].data.tags["error"]
        parent = mlflow.get_run(by_number[running[0]].user_attrs["mlflow_parent_run_id"])
        assert parent.info.status == "FAILED"
    finally:
        mlflow.set_tracking_uri(None)
