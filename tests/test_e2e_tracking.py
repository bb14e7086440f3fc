"""End to end against real processes: an ``mlflow server`` over HTTP, and ``mlflow run``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
from click.testing import CliRunner

from ganflow.cli import main

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--num_epochs", "2", "--hidden_dim", "8", "--latent_dim", "4", "--seq_len", "8"]


@pytest.mark.e2e
def test_train_against_real_mlflow_server(mlflow_server, tmp_path, sample_file, monkeypatch):
    from tests.conftest import listening_addresses

    assert listening_addresses(int(mlflow_server.rsplit(":", 1)[1])) == {"127.0.0.1"}  # loopback only
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(mlflow_server)
    try:
        res = CliRunner().invoke(main, ["train", "--trace_path", str(sample_file), *TINY, "--register_as", "trace-gan",
                                        "--save_dir", str(tmp_path / "ck"), "--checkpoint_every", "1"])
        assert res.exit_code == 0, res.output
        run = mlflow.search_runs(experiment_names=["trace-gan"], output_format="list")[0]
        client = mlflow.MlflowClient()
        assert [m.value for m in client.get_metric_history(run.info.run_id, "g_loss")] == pytest.approx(
            [float(v) for v in _history(client, run.info.run_id)], rel=1e-9)
        ckpts = [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")]
        assert ckpts == ["checkpoints/checkpoint_epoch_1.pt", "checkpoints/checkpoint_epoch_2.pt"]
        # the registered model loads back over HTTP and samples
        model = mlflow.pyfunc.load_model("models:/trace-gan@champion")
        import pandas as pd

        out = model.predict(pd.DataFrame({"num_rows": [40], "seed": [1]}))
        assert list(out.columns) == ["timestamp", "length", "lba", "latency", "opcode"] and len(out) == 40
        assert set(out["opcode"]) <= {"R", "W"} and out["length"].isin([4096, 8192, 16384, 65536, 131072]).mean() > 0.5
    finally:
        mlflow.set_tracking_uri(None)


def _history(client, run_id):
    import json

    path = client.download_artifacts(run_id, "training_history.json")
    return [h["g_loss"] for h in json.loads(Path(path).read_text())["history"]]


@pytest.mark.e2e
def test_unreachable_server_fails_fast(tmp_path, sample_file, monkeypatch):
    from tests.conftest import free_port

    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    res = CliRunner().invoke(main, ["train", "--trace_path", str(sample_file), *TINY])
    assert res.exit_code == 2 and "is unreachable" in res.output and "check MLFLOW_TRACKING_URI" in res.output
    assert len(res.output.strip().splitlines()) == 1


@pytest.mark.slow
def test_mlflow_run_train_entry_point(tmp_path):
    """`mlflow run . -e train --env-manager local -P num_epochs=1`, on a copy of the project."""
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".git", "*.db", "mlruns", "checkpoints", "__pycache__", ".venv"))
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("MLFLOW_RUN_ID", None)
    out = subprocess.run([sys.executable, "-m", "mlflow", "run", str(project), "-e", "train", "--env-manager", "local",
                          "--experiment-name", "trace-gan", "-P", "num_epochs=1", "-P", "num_entries=500"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    synth = project / "synthetic_trace.txt"
    assert len(synth.read_text().splitlines()) == 500
    mlflow.set_tracking_uri(env["MLFLOW_TRACKING_URI"])
    try:
        client = mlflow.MlflowClient()
        version = client.get_model_version_by_alias("trace-gan", "champion")
        run = client.get_run(version.run_id)
        assert run.info.status == "FINISHED" and run.data.params["num_epochs"] == "1"
        assert run.info.run_name.split("-")[0] in ("gan", "wgan")  # ganflow's name, not the one `mlflow run` drew
        experiment = client.get_experiment(run.info.experiment_id)  # the README's command: in trace-gan, described
        assert experiment.name == "trace-gan" and "one run per `ganflow train`" in experiment.tags["mlflow.note.content"]
    finally:
        mlflow.set_tracking_uri(None)
