"""The Spark engine against a real ``mlflow server`` and real Spark (``local[2]``, 127.0.0.1).

Skipped unless PySpark (``pip install -e '.[spark]'``) and a Java runtime are installed; CI
installs both. Marked slow: a Spark session takes ~10 s to start.
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.e2e]
pyspark = pytest.importorskip("pyspark")
if shutil.which("java") is None:
    pytest.skip("no Java runtime (apt install openjdk-17-jre-headless)", allow_module_level=True)


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    from serving.spark import local_python

    local_python()
    session = (SparkSession.builder.master("local[2,3]")  # 2 cores; a task may fail twice and be retried
               .appName("ganflow-tests").config("spark.ui.enabled", "false")
               .config("spark.driver.host", "127.0.0.1").config("spark.driver.bindAddress", "127.0.0.1")
               .config("spark.sql.execution.arrow.pyspark.enabled", "true").getOrCreate())
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def registered(tmp_path_factory, sample_frame):
    """A real mlflow server with a small carried-state trace GAN registered as ``spark-gan``
    (and its ONNX export as ``spark-gan-onnx``); yields the server URL."""
    import mlflow

    from serving.export import export_model
    from tests.conftest import run_mlflow_server
    from training.config import DataConfig, RunOptions, TraceGANConfig
    from training.pipeline import train

    work = tmp_path_factory.mktemp("spark")
    server = run_mlflow_server(f"sqlite:///{work / 'server.db'}", work)
    url = next(server)
    os.environ["MLFLOW_TRACKING_URI"] = url
    mlflow.set_tracking_uri(url)
    from serving.writers import write_trace_frame

    trace = write_trace_frame(sample_frame, work / "t.txt", "text6")
    config = TraceGANConfig(num_epochs=1, batch_size=32, hidden_dim=16, latent_dim=4, seq_len=8, seed=3)
    train(DataConfig(trace_path=str(trace)), config,
          RunOptions(register_as="spark-gan", save_dir=str(work / "ck"), plots=False, eval_every=0,
                     system_metrics=False))
    export_model("models:/spark-gan@champion", experiment="spark-export")
    try:
        yield url
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        mlflow.set_tracking_uri(None)
        next(server, None)


def _table(path: Path):
    import pyarrow.parquet as pq

    return pq.read_table(path)


def _local_streams(model_uri: str, streams: int, rows: int, seed: int, tmp: Path) -> list[np.ndarray]:
    """What the local engine writes for the same streams, cut back into streams, each shifted
    back to start where a stream of its own starts."""
    from serving.registry import load_any
    from serving.synthesize import synthesize_to_file

    model = load_any(model_uri).synthesizer
    synthesize_to_file(model, streams * rows, tmp / "local.parquet", fmt="parquet", seed=seed, streams=streams,
                       workers=2)
    table = _table(tmp / "local.parquet")
    ts = table["timestamp"].to_numpy()
    own = [next(model.sample_chunks(rows, seed=seed, stream=k))[0, 0] for k in range(streams)]
    return [ts[k * rows:(k + 1) * rows] - (ts[k * rows] - round(own[k])) for k in range(streams)], table


def test_spark_job_writes_every_stream_as_the_local_engine_does(spark, registered, tmp_path):
    from serving.spark import MANIFEST, generate_on_spark, part_path
    from training.parquet_reader import UNITS_KEY
    from training.readers import read_trace

    out = tmp_path / "out"
    stats = generate_on_spark(spark, "models:/spark-gan@champion", streams=3, rows_per_stream=4000, output=out,
                              seed=5)
    assert stats.rows == 12_000 and stats.model_uri == "models:/spark-gan/1" and len(stats.load_seconds) == 3
    parts = [part_path(out, "parquet", k) for k in range(3)]
    tables = [_table(p) for p in parts]
    assert [t.num_rows for t in tables] == [4000] * 3
    assert tables[0].column_names == ["timestamp", "length", "lba", "latency", "opcode"]
    assert UNITS_KEY in tables[0].schema.metadata  # the local writer's units metadata
    assert len(read_trace(parts[1], "parquet")) == 4000

    # the same seed and streams give the same rows as the local engine (each stream on its own clock)
    local_ts, local = _local_streams("models:/spark-gan/1", 3, 4000, 5, tmp_path)
    for k, t in enumerate(tables):
        np.testing.assert_array_equal(t["timestamp"].to_numpy(), local_ts[k])
        for col in ("length", "lba", "latency"):
            np.testing.assert_array_equal(t[col].to_numpy(), local[col].to_numpy()[k * 4000:(k + 1) * 4000])

    # determinism: a second run (overwrite) writes the same bytes; without --overwrite it is refused
    before = [p.read_bytes() for p in parts]
    generate_on_spark(spark, "models:/spark-gan/1", streams=3, rows_per_stream=4000, output=out, seed=5, overwrite=True)
    assert [p.read_bytes() for p in parts] == before
    with pytest.raises(Exception, match="output exists"):
        generate_on_spark(spark, "models:/spark-gan/1", streams=3, rows_per_stream=4000, output=out, seed=5)
    assert '"model_version": "1"' in (out / MANIFEST).read_text()

    # the dataset reads as one table with a stream column (Hive-style partitions)
    whole = spark.read.parquet(str(out))
    assert whole.count() == 12_000 and sorted(r[0] for r in whole.select("stream").distinct().collect()) == [0, 1, 2]


def test_a_killed_task_is_retried_without_duplicate_or_missing_rows(spark, registered, tmp_path):
    from serving.spark import generate_on_spark, part_path

    out, rows = tmp_path / "out", 400_000
    killed: list[int] = []

    def kill_one_writer() -> None:  # SIGKILL the Python worker writing stream 1, once, mid-write
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            folder = out / "stream=1"
            for p in folder.glob(".part-00000.parquet.*.tmp") if folder.is_dir() else []:
                pid = int(p.name.rsplit("-", 2)[-2])
                if p.stat().st_size > 0:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.05)

    watcher = threading.Thread(target=kill_one_writer)
    watcher.start()
    stats = generate_on_spark(spark, "models:/spark-gan/1", streams=2, rows_per_stream=rows, output=out, seed=9)
    watcher.join()
    assert killed, "the writer of stream 1 was never caught mid-write"
    assert stats.rows == 2 * rows
    tables = [_table(part_path(out, "parquet", k)) for k in range(2)]
    assert [t.num_rows for t in tables] == [rows, rows]
    from serving.registry import load_any

    model = load_any("models:/spark-gan/1").synthesizer
    expect = np.concatenate(list(model.sample_chunks(rows, seed=9, stream=1)))
    np.testing.assert_array_equal(tables[1]["length"].to_numpy(), np.rint(expect[:, 1]).astype(np.int64))
    assert not list(out.rglob("*.tmp"))  # the killed attempt's temporary was swept by the retry


def test_onnx_model_and_cli_with_lineage(registered, tmp_path, spark):
    import mlflow
    from click.testing import CliRunner

    from ganflow.cli import main
    from serving.spark import part_path

    out = tmp_path / "onnx"
    res = CliRunner().invoke(main, ["generate", "--engine", "spark", "--model", "models:/spark-gan-onnx@champion",
                                    "--streams", "2", "--rows_per_stream", "3000", "--output_synth", str(out),
                                    "--format", "parquet", "--seed", "4"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "onnxruntime" in res.output and "6000 rows" in res.output
    assert [_table(part_path(out, "parquet", k)).num_rows for k in range(2)] == [3000, 3000]
    run = mlflow.search_runs(experiment_names=["trace-gan-synthesis"], output_format="list")[0]
    p = run.data.params
    assert p["engine"] == "spark" and p["streams"] == "2" and p["rows"] == "6000" and p["source_model_version"] == "1"
    assert p["source_model_name"] == "spark-gan-onnx" and float(run.data.metrics["rows_per_second"]) > 0
    assert "task_load_seconds_median" in run.data.metrics


def test_spark_submit_runs_the_job_as_the_readme_says(registered, tmp_path):
    """The README's cluster command, on local[2]: spark-submit ganflow/spark_submit.py ARGS."""
    import subprocess
    import sys

    import ganflow.spark_submit as entry
    from serving.spark import part_path

    submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    out = tmp_path / "submitted"
    env = {**os.environ, "MLFLOW_TRACKING_URI": registered, "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable}
    proc = subprocess.run([str(submit), "--master", "local[2]", "--conf", "spark.driver.host=127.0.0.1", entry.__file__,
                           "--model", "models:/spark-gan@champion", "--streams", "2", "--rows_per_stream", "1500",
                           "--output_synth", str(out), "--format", "parquet", "--seed", "8"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    said = proc.stdout + proc.stderr  # spark-submit passes the driver's stderr to its stdout
    assert "wrote 3000 rows" in said and "lineage run" in said
    assert [_table(part_path(out, "parquet", k)).num_rows for k in range(2)] == [1500, 1500]
    bad = subprocess.run([str(submit), "--master", "local[1]", entry.__file__, "--model", "models:/no-such-model/1",
                          "--streams", "2", "--rows_per_stream", "10", "--output_synth", str(tmp_path / "x")],
                         env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "error: model 'models:/no-such-model/1' not found" in bad.stdout + bad.stderr
