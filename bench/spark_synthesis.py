"""The Spark engine against the local one, same streams and rows, one run (ratios, not absolute
times: the machine is shared).

One ONNX model (the default architecture, trained 1 epoch on the bundled sample: quality is
irrelevant here) written as Parquet, ``--streams`` streams of ``--rows / --streams`` rows each:

  local_2w        synthesize_to_file(streams=S, workers=2): the local engine, 2 processes
  spark_local1    generate_on_spark on local[1]: one task at a time
  spark_local2    generate_on_spark on local[2]: two at a time (the scaling check: a bigger
                  machine or a cluster adds task slots the same way)
  spark_registry  local[2] with the model loaded by every task from an MLflow registry
                  (``models:/bench-onnx/1``, a SQLite store in a temporary folder)
  task_load_s     per-task model load as data (median): from the .onnx file, from the registry
  task_overhead_s per task, what is neither load nor writing: scheduling, the Python worker,
                  its imports ((job seconds × cores − Σ task seconds) / tasks)
  session_start_s SparkSession start-up (the JVM, once per job)

Rows/s count the job only (session start-up apart). Usage:
python bench/spark_synthesis.py [--rows 2000000] [--streams 8]   (needs pip install -e '.[spark]' and Java 17+)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _register(d: Path) -> str:
    """The ONNX model logged and registered in a SQLite MLflow store under ``d``."""
    import mlflow
    import onnx

    mlflow.set_tracking_uri(f"sqlite:///{d / 'mlflow.db'}")
    with mlflow.start_run(run_name="bench-spark"):
        mlflow.onnx.log_model(onnx.load(str(d / "model.onnx")), name="model", registered_model_name="bench-onnx",
                              metadata={"ganflow_kind": "trace-gan-onnx"}, save_as_external_data=False)
    return "models:/bench-onnx/1"


def _record(out: dict, name: str, stats, cores: int) -> None:
    n = len(stats.load_seconds)
    out[f"spark_{name}"] = stats.rows_per_second
    out[f"task_load_s_{name}"] = sorted(stats.load_seconds)[n // 2]
    out[f"task_write_s_{name}"] = sorted(stats.write_seconds)[n // 2]
    out[f"task_overhead_s_{name}"] = (stats.seconds * cores - sum(stats.load_seconds) - sum(stats.write_seconds)) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--streams", type=int, default=8)
    args = ap.parse_args()
    from pyspark.sql import SparkSession

    from serving.onnx_export import OnnxSynthesizer, export_onnx
    from serving.spark import generate_on_spark, local_python
    from serving.synthesize import synthesize_to_file
    from training.config import TraceGANConfig
    from training.sample import make_sample_trace
    from training.synthesizer import Synthesizer

    local_python()
    synth = Synthesizer(TraceGANConfig(num_epochs=1, val_fraction=0.0))
    synth.fit(make_sample_trace(20_000))
    out = {"rows": args.rows, "streams": args.streams}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        export_onnx(synth, d / "model.onnx")
        registered = _register(d)
        model = OnnxSynthesizer.from_file(d / "model.onnx")
        start = time.perf_counter()
        synthesize_to_file(model, args.rows, d / "local.parquet", fmt="parquet", streams=args.streams, workers=2)
        out["local_2w"] = args.rows / (time.perf_counter() - start)
        for cores in (1, 2):
            start = time.perf_counter()
            spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
                     .config("spark.ui.showConsoleProgress", "false")
                     .config("spark.driver.host", "127.0.0.1").getOrCreate())
            spark.sparkContext.setLogLevel("ERROR")
            out[f"session_start_s_local{cores}"] = time.perf_counter() - start
            stats = generate_on_spark(spark, str(d / "model.onnx"), streams=args.streams, num_rows=args.rows,
                                      output=d / f"spark{cores}", fmt="parquet")
            _record(out, f"local{cores}", stats, cores)
            if cores == 2:
                stats = generate_on_spark(spark, registered, streams=args.streams, num_rows=args.rows,
                                          output=d / "registry", fmt="parquet")
                _record(out, "registry", stats, cores)
            spark.stop()
    out["spark_local2_vs_local_2w"] = out["spark_local2"] / out["local_2w"]
    out["spark_local2_vs_local1"] = out["spark_local2"] / out["spark_local1"]
    out["spark_registry_vs_local_2w"] = out["spark_registry"] / out["local_2w"]
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}, indent=1))


if __name__ == "__main__":
    main()
