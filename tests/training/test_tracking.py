"""``training.tracking`` under ``mlflow run``: the run MLflow made is the one used, in the experiment
``--experiment-name`` chose, and a ganflow experiment made that way gets its description."""

from __future__ import annotations

import mlflow

from training.tracking import EXPERIMENT_NOTES, tracked_run


def test_a_run_made_by_mlflow_run_is_used_and_its_experiment_described(tracking_uri, monkeypatch):
    client = mlflow.MlflowClient()
    for name, described in (("trace-gan", True), ("my-study", False)):
        exp = client.create_experiment(name)  # as `mlflow run --experiment-name NAME` makes it: no description
        run = client.create_run(exp)
        monkeypatch.setenv("MLFLOW_RUN_ID", run.info.run_id)
        with tracked_run(experiment="trace-gan", run_name="gan-typed-s42") as active:
            assert active.info.run_id == run.info.run_id and active.info.experiment_id == exp
        assert client.get_run(run.info.run_id).data.tags["mlflow.runName"] == "gan-typed-s42"
        note = client.get_experiment(exp).tags.get("mlflow.note.content")
        assert note == (EXPERIMENT_NOTES["trace-gan"] if described else None)  # a user's own experiment is left alone
