"""What the MLflow UI shows, read back through the REST API of a real ``mlflow server``: two
training runs and a 3-trial study get distinct informative names, descriptions, dataset inputs
with the trace's digest, rounded params, system metrics, the headline metrics and no counts."""

from __future__ import annotations

import hashlib
import json
import urllib.request

import pytest
from click.testing import CliRunner

from ganflow.cli import main

pytestmark = pytest.mark.e2e
TINY = ["--num_epochs", "2", "--hidden_dim", "8", "--latent_dim", "4", "--seq_len", "8", "--eval_every", "1"]


def _api(server: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(f"{server}/api/2.0/mlflow/{path}", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _get(server: str, path: str) -> dict:
    with urllib.request.urlopen(f"{server}/api/2.0/mlflow/{path}", timeout=30) as resp:
        return json.loads(resp.read())


def _runs(server: str, experiment: str) -> list[dict]:
    exp_id = _get(server, f"experiments/get-by-name?experiment_name={experiment}")["experiment"]["experiment_id"]
    return _api(server, "runs/search", {"experiment_ids": [exp_id], "max_results": 100})["runs"]


def test_runs_read_well_in_the_ui(mlflow_server, tmp_path, sample_file, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(mlflow_server)
    mlflow.set_system_metrics_sampling_interval(0.2)  # these runs last about a second; the default samples every 10 s
    mlflow.set_system_metrics_samples_before_logging(1)
    try:
        _train_and_check(mlflow_server, tmp_path, sample_file)
    finally:
        mlflow.set_system_metrics_sampling_interval(None)
        mlflow.set_system_metrics_samples_before_logging(None)


def _train_and_check(mlflow_server, tmp_path, sample_file) -> None:
    common = ["--trace_path", str(sample_file), *TINY, "--save_dir", str(tmp_path / "ck")]
    for extra in (["--lr_g", "4.275936647080321e-05"], ["--seed", "7", "--register_as", "trace-gan"]):
        res = CliRunner().invoke(main, ["train", *common, *extra])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["tune", "--trace_path", str(sample_file), "--hidden_dim", "8", "--latent_dim", "4",
                                    "--seq_len", "8", "--n_trials", "3", "--epochs_per_trial", "1", "--pruner", "none",
                                    "--register_as", "", "--save_dir", str(tmp_path / "ck"), "--sampler_seed", "1"])
    assert res.exit_code == 0, res.output

    training = _runs(mlflow_server, "trace-gan")
    names = sorted(r["info"]["run_name"] for r in training)
    assert names == ["gan-typed-lr4.3e-5-lrd5e-4-s42", "gan-typed-lr5e-4-s7"]
    tuning = _runs(mlflow_server, "trace-gan-tune")
    assert sorted(r["info"]["run_name"] for r in tuning) == ["trial-0", "trial-1", "trial-2", "tune-trace-gan"]

    digest = hashlib.sha256(sample_file.read_bytes()).hexdigest()
    for run in training + tuning:
        tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
        assert tags.get("mlflow.note.content", "").startswith(("Trace GAN on", "Optuna study")), run["info"]["run_name"]
        inputs = run.get("inputs", {}).get("dataset_inputs", [])
        contexts = {t["value"] for i in inputs for t in i.get("tags", []) if t["key"] == "mlflow.data.context"}
        assert contexts == {"training", "validation"}, run["info"]["run_name"]
        profiles = [json.loads(i["dataset"]["profile"]) for i in inputs]
        assert all(p["file_sha256"] == digest for p in profiles)
    for run in training + [r for r in tuning if r["info"]["run_name"].startswith("trial-")]:
        metrics = {m["key"] for m in run["data"]["metrics"]}
        assert {"val_mmd2", "val_fields", "best_val_mmd2", "best_epoch", "model_epoch", "score_hrc_mae", "score_size_tv"} <= metrics
        assert not {m for m in metrics if m.startswith("final_") or m.startswith("n_")}
        assert any(m.startswith("system/cpu_utilization_percentage") for m in metrics), run["info"]["run_name"]
        params = {p["key"]: p["value"] for p in run["data"]["params"]}
        for key in ("lr_g", "lr_d", "val_fraction"):
            assert params[key] == f"{float(params[key]):.4g}", params[key]  # 4 significant digits at most
    first = next(r for r in training if r["info"]["run_name"].startswith("gan-typed-lr4.3e-5"))
    assert {p["key"]: p["value"] for p in first["data"]["params"]}["lr_g"] == "4.276e-05"
    registered = _get(mlflow_server, "registered-models/get?name=trace-gan")["registered_model"]
    assert registered["description"].startswith("Trace GAN generators")
    version = _get(mlflow_server, "model-versions/get?name=trace-gan&version=1")["model_version"]
    assert version["description"].startswith("From run gan-typed-lr5e-4-s7") and "val_mmd2" in version["description"]
