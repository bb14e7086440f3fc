"""Batch synthesis on Apache Spark: one task per stream of a registered trace GAN, written as a
dataset partitioned by stream (``OUTPUT/stream=K/part-00000.parquet``).

A carried-state model's unit of parallel work is the stream: stream K is drawn from
``(seed, K)`` alone, so tasks share nothing and any task can run anywhere, any number of times.
The driver pins the model (``models:/name@alias`` becomes ``models:/name/N``, so a moving alias
cannot mix versions), checks it loads, and runs ``mapInPandas`` over ``spark.range(streams)``
with one partition per stream. Each task loads the model once, from the registry, as data
(``serving.registry.load_any``: JSON, weights-only tensors or ONNX protobuf; no model code is
run), and writes its stream with the local engine's writer (``serving.writers.open_writer``:
the same columns, units metadata and bytes as ``ganflow generate --streams``), to a temporary
name renamed into place. A retried or speculative attempt writes the same bytes to the same
path, so a failed task leaves neither a duplicate nor a gap; its stale temporary (a dot-file,
which Spark and pyarrow datasets skip) is removed by the next write of that part.

Each stream's timestamps start at its own first request (volumes of a fleet run side by side);
the local engine writes the same streams one after another, shifted to follow each other. The
rows are otherwise identical (tests/serving/test_spark.py).

The executors need ganflow installed (``pip install ganflow[spark]`` or ``--py-files``) and the
tracking URI, which the job passes to every task.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from serving.synthesize import stream_plan
from serving.writers import WRITERS, check_format
from training.config import WRITE_FORMAT_ALIASES
from training.errors import ConfigError, DataError, ModelError

__all__ = ["SparkJob", "SparkStats", "generate_on_spark", "spark_session", "local_python", "part_path", "MANIFEST"]

log = logging.getLogger(__name__)
MANIFEST = "_ganflow.json"  # beside the parts; "_" names are skipped by dataset readers
_SUFFIX = {"parquet": "parquet", "csv": "csv", "text4": "txt", "msr": "csv", "mqsim": "txt", "disksim": "txt", "spc": "spc",
           "alibaba": "csv", "tencent": "csv", "systor": "csv"}
_RESULT = "stream long, rows long, load_seconds double, write_seconds double, path string"


@dataclass(frozen=True)
class SparkJob:
    """What every task needs, shipped to the executors with the task (plain values only)."""

    model_uri: str
    rows: tuple[int, ...]  # per stream
    seed: int
    output: str
    fmt: str
    engine: str
    tracking_uri: str


@dataclass
class SparkStats:
    rows: int
    seconds: float
    path: str
    fmt: str
    streams: int
    model_uri: str
    load_seconds: list[float] = field(default_factory=list)  # per task: the model from the registry
    write_seconds: list[float] = field(default_factory=list)  # per task: sampling and writing

    master: str = ""
    model_engine: str = ""  # torch or onnxruntime, in the executors

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def fingerprint_file(self) -> Path:
        """The file whose sha256 stands for the output: the manifest of the parts."""
        return Path(self.path) / MANIFEST

    def params(self) -> dict:
        """How the rows were written, for the lineage run (``serving.synthesize.log_lineage``)."""
        return {"engine": "spark", "streams": self.streams, "master": self.master, "pinned_model_uri": self.model_uri}

    def metrics(self) -> dict:
        """Per-task start-up (the model from the registry) and work, so a user can size streams."""
        return {"task_load_seconds_median": float(np.median(self.load_seconds)),
                "task_load_seconds_max": max(self.load_seconds),
                "task_write_seconds_median": float(np.median(self.write_seconds)),
                "tasks": len(self.load_seconds)}


def spark_session(master: str = ""):
    """The Spark session for ``ganflow generate --engine spark``: spark-submit's when it runs the
    job (its master and conf), else a new one on ``master`` (default ``local[*]``)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("--engine spark needs PySpark and a Java runtime: pip install 'ganflow[spark]' "
                          "(README: Spark)") from None
    local_python()
    builder = SparkSession.builder.appName("ganflow-generate").config("spark.ui.showConsoleProgress", "false")
    if master:
        builder = builder.master(master)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def local_python() -> None:
    """Local-mode Python workers run this interpreter (where ganflow is installed), not whatever
    ``python3`` is first on PATH; a cluster's ``PYSPARK_PYTHON`` is left alone."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def part_path(output: str | Path, fmt: str, stream: int) -> Path:
    """Where stream ``stream``'s rows go (Hive-style partition folder, so readers see ``stream``)."""
    return Path(output) / f"stream={stream}" / f"part-00000.{_SUFFIX[fmt]}"


def _run_stream(job: SparkJob, stream: int) -> dict:
    """One task: load the model (as data), write one stream; the summary row for the driver."""
    import mlflow

    from serving.registry import load_any
    from serving.synthesize import one_blas_thread
    from serving.writers import open_writer

    mlflow.set_tracking_uri(job.tracking_uri)
    start = time.perf_counter()
    model = load_any(job.model_uri, engine=job.engine, threads=1).synthesizer
    if model.engine == "torch":
        import torch

        torch.set_num_threads(1)  # one task, one core (spark.task.cpus)
    loaded = time.perf_counter()
    path = part_path(job.output, job.fmt, stream)
    rows = job.rows[stream]
    with open_writer(path, job.fmt, columns=model.columns, units=model.transformer.units_) as writer, \
            one_blas_thread():
        for chunk in model.sample_chunks(rows, seed=job.seed, stream=stream):
            writer.write(chunk)
    return {"stream": stream, "rows": rows, "load_seconds": loaded - start,
            "write_seconds": time.perf_counter() - loaded, "path": str(path)}


def _tasks(job: SparkJob):
    def run(batches: Iterator) -> Iterator:
        import pandas as pd

        for batch in batches:
            yield pd.DataFrame([_run_stream(job, int(s)) for s in batch["id"]],
                               columns=["stream", "rows", "load_seconds", "write_seconds", "path"])
    return run


def _pinned(model_uri: str) -> tuple[str, dict]:
    """``models:/name@alias`` -> ``models:/name/N`` (every task loads the same version)."""
    from serving.registry import resolve_version

    lineage = resolve_version(model_uri)
    if lineage.get("model_version"):
        return f"models:/{lineage['model_name']}/{lineage['model_version']}", lineage
    return model_uri, lineage


def _prepare_output(output: Path, overwrite: bool) -> None:
    if output.is_file():
        raise ConfigError(f"{output}: is a file; the Spark engine writes a folder of parts (stream=K/)")
    old = [*output.glob("stream=*"), *(p for p in [output / MANIFEST] if p.exists())]
    if old and not overwrite:
        raise ConfigError(f"{output}: output exists; pass --overwrite to replace it")
    for p in old:
        shutil.rmtree(p) if p.is_dir() else p.unlink()
    output.mkdir(parents=True, exist_ok=True)


def generate_on_spark(spark, model_uri: str, *, streams: int, rows_per_stream: int = 0, num_rows: int = 0,
                      output: str | Path, fmt: str = "parquet", seed: int = 0, engine: str = "auto",
                      overwrite: bool = False) -> SparkStats:
    """Write ``streams`` independent streams of ``model_uri`` from Spark tasks, one per stream.

    Rows per stream: ``rows_per_stream``, or ``num_rows`` split as the local engine splits it
    (``serving.synthesize.stream_plan``). ``spark`` is the caller's ``SparkSession`` (its master
    decides where tasks run); the output folder must be visible to the executors under the same
    path (a shared or local file system).
    """
    fmt = WRITE_FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in WRITERS:
        raise ConfigError(f"unknown output format {fmt!r}; valid formats: {', '.join(WRITERS)}")
    if streams < 1 or rows_per_stream < 0 or num_rows < 0 or bool(rows_per_stream) == bool(num_rows):
        raise ConfigError(f"need streams >= 1 and exactly one of rows_per_stream, num_rows > 0, but got {streams=}, "
                          f"{rows_per_stream=}, {num_rows=}")
    import mlflow

    from serving.registry import load_any

    uri, lineage = _pinned(model_uri)
    model = load_any(uri, engine=engine).synthesizer  # fails here, once, rather than in every task
    if not model.config.carry_state:
        raise ConfigError(f"{model_uri}: a model of independent windows has one stream; the Spark engine runs "
                          "carried-state models (--streams), use --shards for this one")
    check_format(fmt, model.columns, model.transformer.units_)  # a layout needs the model's time unit
    rows = tuple([rows_per_stream] * streams) if rows_per_stream else tuple(r for _, _, r in stream_plan(num_rows, streams))
    out = Path(output).absolute()
    _prepare_output(out, overwrite)
    job = SparkJob(uri, rows, seed, str(out), fmt, engine, mlflow.get_tracking_uri())
    start = time.perf_counter()
    ids = spark.range(0, streams, 1, numPartitions=streams)
    try:
        collected = ids.mapInPandas(_tasks(job), _RESULT).collect()
    except Exception as exc:  # a task that failed every retry; Spark's message is a page of JVM and Python frames
        if not type(exc).__module__.startswith(("pyspark", "py4j")):
            raise
        raise ModelError(f"the Spark job failed (a task failed every attempt): {_cause(exc)}") from None
    results = sorted((r.asDict() for r in collected), key=lambda r: r["stream"])
    seconds = time.perf_counter() - start
    if [r["stream"] for r in results] != list(range(streams)) or any(r["rows"] != rows[r["stream"]] for r in results):
        raise DataError(f"{out}: the Spark job reported streams {[r['stream'] for r in results][:10]}…, not 0..{streams - 1}")
    stats = SparkStats(sum(rows), seconds, str(out), fmt, streams, uri, [r["load_seconds"] for r in results],
                       [r["write_seconds"] for r in results], spark.sparkContext.master, model.engine)
    _write_manifest(out, stats, job, lineage, model)
    return stats


def _cause(exc: Exception) -> str:
    """The Python error inside a Spark failure: its last ``SomethingError: …`` line."""
    lines = [line.strip() for line in str(exc).splitlines()]
    found = [line for line in lines if re.match(r"^[A-Za-z_.]*(Error|Exception): ", line)]
    return (found[-1] if found else next((line for line in lines if line), type(exc).__name__))[:500]


def _write_manifest(out: Path, stats: SparkStats, job: SparkJob, lineage: dict, model) -> None:
    from training.utils import atomic_output

    manifest = {"model_uri": job.model_uri, **lineage, "seed": job.seed, "format": job.fmt, "streams": stats.streams,
                "rows": stats.rows, "rows_per_stream": list(job.rows), "columns": list(model.columns),
                "units": model.transformer.units_, "engine": model.engine,
                "parts": [str(part_path(".", job.fmt, k)) for k in range(stats.streams)]}
    with atomic_output(out / MANIFEST) as fh:
        json.dump(manifest, fh, indent=2)

