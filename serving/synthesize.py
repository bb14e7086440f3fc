"""Batch synthesis: a model's blocks -> a writer, in constant memory, atomically, optionally sharded.

Rows come in fixed blocks whose noise depends only on ``(seed, block index)``, and delta-mode
timestamps are an exact integer running sum, so a shard that starts at block b with the time
offset of the blocks before it produces exactly the rows the single stream would. That is why
the output is byte-identical whatever ``shards`` and ``workers`` are:

* one stream (``shards=1, workers=1``): ``threads`` decode threads run the model a few blocks
  ahead while the main thread encodes and writes the previous block (onnxruntime, torch and
  pyarrow release the GIL); give an ``OnnxSynthesizer`` one intra-op thread per decode thread;
* sharded: the blocks are cut into ``shards`` contiguous ranges; in delta mode a first pass
  measures each shard's time span (prefix sums give the offsets); worker processes then write
  each shard's encoded part beside the output, and the parts are joined in order into the
  temporary output, which is renamed into place. No partial output exists at any time.

NumPy's BLAS runs on one thread throughout (``one_blas_thread``): the stream's noise filter
multiplies small matrices, and OpenBLAS's extra threads then spin on the cores the network and
the writer need (1M rows on 2 cores, ``bench/synthesis.py``: ~370k rows/s with them, ~490k without).

A ``carry_state`` model cannot start mid-stream (each block continues the LSTM state and the LRU
stack of the one before), so it parallelises over ``streams`` instead: K independent streams,
each drawn from ``(seed, stream)`` by a worker into a raw float64 part, then encoded one after
another in the main process, each stream's timestamps shifted to start where the previous one
ended (one pass: the network, the costly part, runs once). The output depends on ``seed`` and
``streams`` only, never on ``workers``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from serving.writers import check_format, encode, header, open_writer
from training.config import ROW_COLUMNS
from training.errors import ConfigError
from training.synthesizer import BLOCK_SEQUENCES
from training.utils import atomic_output, check_output, sweep_stale_temps, temp_prefix

if TYPE_CHECKING:
    from serving.registry import Sampler

__all__ = ["SynthesisStats", "synthesize_to_file", "shard_plan", "stream_plan", "log_lineage", "one_blas_thread"]

log = logging.getLogger(__name__)


@dataclass
class SynthesisStats:
    rows: int
    seconds: float
    path: str
    fmt: str
    shards: int = 1
    workers: int = 1

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else float("inf")

    def fingerprint_file(self) -> Path:
        """The file whose sha256 stands for the output."""
        return Path(self.path)

    def params(self) -> dict:
        """How the rows were written, for the lineage run."""
        return {"engine": "local", "shards": self.shards, "workers": self.workers}

    def metrics(self) -> dict:
        return {}


def one_blas_thread():
    """A context in which NumPy's BLAS uses one thread (see the module docstring)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1, user_api="blas")


def _progress(total: int, enabled: bool | None):
    from tqdm import tqdm

    from training import progress

    enabled = progress.enabled() if enabled is None else enabled
    return tqdm(total=total, unit="rows", unit_scale=True, disable=not enabled, file=sys.stderr)


def _stream(model: Sampler, n_rows: int, path, fmt: str, seed: int, overwrite: bool, progress, threads: int) -> None:
    with open_writer(path, fmt, overwrite=overwrite, columns=model.columns, units=model.transformer.units_,
                     warn=False) as writer:
        for chunk in model.sample_chunks(n_rows, seed=seed, threads=threads):
            writer.write(chunk)
            progress.update(len(chunk))


def stream_plan(n_rows: int, streams: int) -> list[tuple[int, int, int]]:
    """``(first_block, stream, rows)`` per part of a carried-state model: ``streams`` independent
    streams of nearly equal length (the first ``n_rows % streams`` one row longer)."""
    return [(0, k, n_rows // streams + (k < n_rows % streams)) for k in range(streams)]


def shard_plan(n_rows: int, seq_len: int, shards: int) -> list[tuple[int, int, int]]:
    """``(first_block, stream, rows)`` per shard of one stream of independent windows:
    contiguous block ranges covering ``n_rows`` (``stream`` is 0)."""
    per_block = BLOCK_SEQUENCES * seq_len
    n_blocks = math.ceil(n_rows / per_block)
    shards = max(1, min(shards, n_blocks))
    plan = []
    for k in range(shards):
        first, last = k * n_blocks // shards, (k + 1) * n_blocks // shards
        rows = min(last * per_block, n_rows) - first * per_block
        plan.append((first, 0, rows))
    return plan


# --- worker processes (spawned: each loads the model itself; nothing is forked) -------------
_MODEL = None


def _init_worker(spec: tuple[str, object]) -> None:
    global _MODEL
    kind, payload = spec
    one_blas_thread()  # threadpoolctl's limits apply when made: for the worker's life
    if kind == "onnx":
        import onnx

        from serving.onnx_export import OnnxSynthesizer

        _MODEL = OnnxSynthesizer(onnx.load_from_string(payload), threads=1)
    else:
        import torch

        from training.synthesizer import Synthesizer

        torch.set_num_threads(1)
        _MODEL = Synthesizer.load(payload)


def _shard_span(first_block: int, stream: int, rows: int, seed: int) -> float:
    end = 0.0
    for chunk in _MODEL.sample_chunks(rows, seed=seed, first_block=first_block, stream=stream):
        end = float(chunk[-1, 0])
    return end


def _write_shard(first_block: int, stream: int, rows: int, seed: int, t_start: float, fmt: str,
                 part: str) -> tuple[int, float]:
    """Write one part: encoded as ``fmt``, or raw float64 rows for ``parquet`` and ``raw``; returns
    the rows written and the last timestamp."""
    end, raw, units = t_start, fmt in ("parquet", "raw"), _MODEL.transformer.units_
    with open(part, "wb") as fh:
        for chunk in _MODEL.sample_chunks(rows, seed=seed, first_block=first_block, stream=stream, t_start=t_start):
            fh.write(np.ascontiguousarray(chunk).tobytes() if raw else encode(chunk, fmt, _MODEL.columns, units))
            end = float(chunk[-1, 0]) if len(chunk) else end
    return rows, end


def _model_spec(model: Sampler, tmp: Path) -> tuple[str, object]:
    if model.engine == "onnxruntime":
        return "onnx", model.model_bytes
    return "torch", str(model.save(tmp / "model"))


def _sharded(model: Sampler, n_rows: int, path, fmt: str, seed: int, shards: int, workers: int, overwrite: bool,
             progress) -> int:
    if model.config.carry_state:
        plan = stream_plan(n_rows, shards)
    else:
        plan = shard_plan(n_rows, model.config.seq_len, shards)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(target)
    with tempfile.TemporaryDirectory(prefix=temp_prefix(target), dir=target.parent) as tmp, \
            ProcessPoolExecutor(workers, mp_context=_spawn(), initializer=_init_worker,
                                initargs=(_model_spec(model, Path(tmp)),)) as pool:
        parts = [str(Path(tmp) / f"part{k:05d}") for k in range(len(plan))]
        timed = model.transformer.mode != "absolute"  # timestamps are a running sum: parts follow each other
        if model.config.carry_state:  # raw parts, shifted in time as they are joined (one pass)
            futures = [pool.submit(_write_shard, first, stream, rows, seed, 0.0, "raw", part)
                       for (first, stream, rows), part in zip(plan, parts)]
            ends = [_done(future, progress)[1] for future in futures]
            shifts = [0.0, *np.cumsum(ends)[:-1].tolist()] if timed else [0.0] * len(plan)
            _join(parts, target, fmt, overwrite, model.columns, raw=True, shifts=shifts, units=model.transformer.units_)
            return len(plan)
        offsets = [0.0] * len(plan)
        if timed:  # a first pass measures each shard's time span
            spans = list(pool.map(_shard_span, *zip(*plan), [seed] * len(plan)))
            offsets = [0.0, *np.cumsum(spans)[:-1].tolist()]
        futures = [pool.submit(_write_shard, first, stream, rows, seed, off, fmt, part)
                   for (first, stream, rows), off, part in zip(plan, offsets, parts)]
        for future in futures:
            _done(future, progress)
        _join(parts, target, fmt, overwrite, model.columns, raw=fmt == "parquet", units=model.transformer.units_)
    return len(plan)


def _done(future, progress) -> tuple[int, float]:
    rows, end = future.result()
    progress.update(rows)
    return rows, end


def _spawn():
    import multiprocessing

    return multiprocessing.get_context("spawn")


def _join(parts: list[str], target: Path, fmt: str, overwrite: bool, columns: tuple[str, ...], *, raw: bool,
          shifts: list[float] | None = None, units: dict | None = None) -> None:
    """Concatenate the parts into ``target``: raw float64 parts are encoded here (each part's
    timestamps shifted by its entry of ``shifts``), encoded ones copied."""
    if raw:
        with open_writer(target, fmt, overwrite=overwrite, columns=columns, units=units, warn=False) as writer:
            for part, shift in zip(parts, shifts or [0.0] * len(parts)):
                rows = np.fromfile(part, dtype=np.float64).reshape(-1, len(ROW_COLUMNS))
                rows[:, 0] += shift
                for start in range(0, len(rows), 1 << 17):
                    writer.write(rows[start:start + (1 << 17)])
        return
    with atomic_output(target, "wb", overwrite=overwrite) as out:
        out.write(header(fmt, columns))
        for part in parts:
            with open(part, "rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 22)


def synthesize_to_file(model: Sampler, n_rows: int, path: str | Path, *, fmt: str = "text4", seed: int = 0,
                       shards: int = 1, streams: int = 1, workers: int = 1, threads: int | None = None,
                       overwrite: bool = True, progress: bool | None = False) -> SynthesisStats:
    """Write ``n_rows`` synthetic rows to ``path`` (whole or not at all); see the module docstring.

    ``model`` is a ``Synthesizer`` (torch) or an ``OnnxSynthesizer``. A ``carry_state`` model
    writes ``streams`` independent streams one after another (``shards`` must be 1); a model of
    independent windows splits its one stream into ``shards`` (``streams`` must be 1).
    """
    if n_rows < 0 or shards < 1 or streams < 1 or workers < 1:
        raise ConfigError(f"need rows >= 0, shards, streams, workers >= 1, but got {n_rows=}, {shards=}, "
                          f"{streams=}, {workers=}")
    carry = model.config.carry_state
    if (carry and shards > 1) or (not carry and streams > 1):
        raise ConfigError(f"this model's {'stream carries its LSTM state' if carry else 'windows are independent'}: "
                          f"use {'--streams' if carry else '--shards'}, not {'--shards' if carry else '--streams'}")
    shards = streams if carry else shards
    fmt = check_format(fmt, model.columns, model.transformer.units_)  # warned here, once
    check_output(path, overwrite)
    start = time.perf_counter()
    with _progress(n_rows, progress) as bar, one_blas_thread():
        if shards == 1 and workers == 1:
            _stream(model, n_rows, path, fmt, seed, overwrite, bar, threads or os.cpu_count() or 1)
            used = 1
        else:
            used = _sharded(model, n_rows, path, fmt, seed, shards, workers, overwrite, bar)
    stats = SynthesisStats(n_rows, time.perf_counter() - start, str(path), fmt, used, workers)
    log.info("wrote %d rows to %s (%s) in %.2fs", n_rows, path, fmt, stats.seconds)
    return stats


def log_lineage(stats, *, model_uri: str, lineage: dict, seed: int, experiment: str = "trace-gan-synthesis") -> str:
    """One MLflow run recording what was synthesized from which model version: ``stats`` is a
    ``SynthesisStats`` or a ``serving.spark.SparkStats`` (rows, seconds, path, fmt, ``params()``,
    ``metrics()``, ``fingerprint_file()``)."""
    import mlflow

    from training.tracking import lineage_tags, source_keys, tracked_run
    from training.utils import sha256_file

    label = lineage.get("model_name", "")
    label = f"{label}-v{lineage['model_version']}" if label and lineage.get("model_version") else label or "model"
    description = (f"{stats.rows:,} synthetic rows from {model_uri} (seed {seed}) written to "
                   f"{os.path.abspath(stats.path)} as {stats.fmt} at {stats.rows_per_second:,.0f} rows/s.")
    with tracked_run(experiment=experiment, run_name=f"generate-{label}-{stats.rows}", tags=lineage_tags(),
                     description=description) as run:
        mlflow.log_params({"model_uri": model_uri, "rows": stats.rows, "seed": seed, "format": stats.fmt,
                           **stats.params(), "output": os.path.abspath(stats.path), **source_keys(lineage)})
        mlflow.log_metrics({"rows_per_second": stats.rows_per_second, "seconds": stats.seconds, **stats.metrics()})
        mlflow.set_tag("output_sha256", sha256_file(stats.fingerprint_file()))
        return run.info.run_id
