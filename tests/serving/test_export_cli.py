"""export -> registry -> generate through onnxruntime, lineage, and online serving (real processes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import mlflow
import pytest
from click.testing import CliRunner

from ganflow.cli import main
from serving.onnx_export import PARITY_ATOL
from tests.conftest import free_port, stop_process, wait_http

TINY = ["--num_epochs", "1", "--hidden_dim", "8", "--latent_dim", "4", "--seq_len", "8", "--batch_size", "64"]


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def registered(tracking_uri, tmp_path, sample_file):
    res = invoke("train", "--trace_path", str(sample_file), *TINY,  # the default: typed fields
                 "--register_as", "trace-gan", "--save_dir", str(tmp_path / "ck"), "--plots", "false")
    assert res.exit_code == 0, res.output
    return tracking_uri


def test_export_registers_onnx_and_generate_uses_it(registered, tmp_path):
    res = invoke("export", "--model", "models:/trace-gan@champion", "--output", str(tmp_path / "m.onnx"))
    assert res.exit_code == 0, res.output
    assert "registered models:/trace-gan-onnx/1 @champion" in res.output
    client = mlflow.MlflowClient()
    version = client.get_model_version_by_alias("trace-gan-onnx", "champion")
    assert version.tags["source_model_name"] == "trace-gan" and version.tags["source_model_version"] == "1"
    assert float(version.tags["parity"]) < PARITY_ATOL
    assert "onnx" in mlflow.models.get_model_info("models:/trace-gan-onnx@champion").flavors

    out_reg, out_file, out_fly = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    res = invoke("generate", "--model", "models:/trace-gan-onnx@champion", "--num_entries", "5000",
                 "--output_synth", str(out_reg), "--format", "csv", "--seed", "2")
    assert res.exit_code == 0 and "onnxruntime" in res.output, res.output
    invoke("generate", "--model", str(tmp_path / "m.onnx"), "--num_entries", "5000", "--output_synth", str(out_file),
           "--format", "csv", "--seed", "2", "--no-lineage")
    invoke("generate", "--model", "models:/trace-gan@champion", "--engine", "onnx", "--num_entries", "5000",
           "--output_synth", str(out_fly), "--format", "csv", "--seed", "2", "--no-lineage")
    assert out_reg.read_bytes() == out_file.read_bytes() == out_fly.read_bytes()

    runs = mlflow.search_runs(experiment_names=["trace-gan-synthesis"], output_format="list")
    assert len(runs) == 1
    params = runs[0].data.params
    assert params["rows"] == "5000" and params["source_model_name"] == "trace-gan-onnx" and params["seed"] == "2"
    assert runs[0].data.metrics["rows_per_second"] > 0 and len(runs[0].data.tags["output_sha256"]) == 64


def test_generate_refuses_existing_output_and_bad_model(registered, tmp_path):
    out = tmp_path / "exists.txt"
    out.write_text("keep")
    res = CliRunner().invoke(main, ["generate", "--model", "models:/trace-gan@champion", "--output_synth", str(out)])
    assert res.exit_code == 2 and "pass --overwrite" in res.output and out.read_text() == "keep"
    res = CliRunner().invoke(main, ["generate", "--model", "models:/trace-gan@nosuchalias", "--output_synth",
                                    str(tmp_path / "o.txt")])
    assert res.exit_code == 2 and "not found" in res.output


@pytest.mark.e2e
def test_mlflow_models_serve_answers_rows(registered, tmp_path):
    port = free_port()
    env = {**os.environ, "MLFLOW_TRACKING_URI": registered,  # uvicorn is run from PATH, as in an activated venv
           "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ['PATH']}"}
    log = open(tmp_path / "serve.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "models", "serve", "-m", "models:/trace-gan@champion",
                             "--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"],
                            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        wait_http(f"http://127.0.0.1:{port}/ping", timeout=120, proc=proc)
        body = json.dumps({"dataframe_records": [{"num_rows": 25, "seed": 4}]}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=body,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            rows = json.loads(resp.read())["predictions"]
        assert len(rows) == 25 and set(rows[0]) == {"timestamp", "length", "lba", "latency", "opcode"}
        ts = [r["timestamp"] for r in rows]
        assert ts == sorted(ts)  # delta mode: monotonic timestamps
        with urllib.request.urlopen(req, timeout=60) as resp:  # same seed, same rows
            assert json.loads(resp.read())["predictions"] == rows
    finally:
        stop_process(proc)
        log.close()
    assert proc.poll() is not None
