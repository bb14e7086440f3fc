"""The tracked training job: read -> fit -> log everything to one MLflow run -> register.

``train`` is what ``ganflow train`` and the MLproject ``train`` entry point run. Every input
problem is found before the run starts where possible; anything later ends the run FAILED with
the reason as a tag, never RUNNING.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import numpy as np

from training.config import DataConfig, TraceGANConfig
from training.errors import DataError
from training.readers import TraceFrame, read_trace
from training.sample import make_sample_trace
from training.synthesizer import Synthesizer
from training.tracking import (
    fail_if_unreachable,
    flatten_params,
    lineage_tags,
    log_new_params,
    register_model,
    tracked_run,
)
from training.utils import resolve_device, seed_everything, sha256_file

__all__ = ["RunOptions", "TrainResult", "load_frame", "train"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunOptions:
    """How a training job is run and recorded (nothing here changes the model)."""

    device: str = "auto"
    experiment: str = "trace-gan"
    run_name: str | None = None
    register_as: str | None = None
    alias: str = "auto"
    checkpoint_every: int = 10
    save_dir: str = "checkpoints"
    save_prefix: str = "trace_gan"
    sample_rows: int = 20_000


@dataclass
class TrainResult:
    run_id: str
    model_uri: str
    synthesizer: Synthesizer
    local_dir: Path
    registered_version: str | None = None
    alias: str | None = None
    data_info: dict = field(default_factory=dict)


def load_frame(data: DataConfig, *, sample_rows: int = 20_000) -> tuple[TraceFrame, dict[str, str | int]]:
    """The training rows (a file, or the bundled sample) and their fingerprint for lineage."""
    if data.trace_path is None:
        frame = make_sample_trace(sample_rows)
        digest = hashlib.sha256(np.ascontiguousarray(frame.values()).tobytes()).hexdigest()
    else:
        frame = read_trace(data.trace_path, data.trace_format, max_lines=data.max_lines, columns=data.columns)
        digest = sha256_file(data.trace_path)
    info = {"data_source": frame.source, "data_sha256": digest, "rows_read": len(frame),
            "lines_skipped": frame.skipped, "distinct_timestamps": int(len(np.unique(frame.timestamp)))}
    if frame.skipped:
        log.warning("%s: skipped %d lines with fewer than 6 fields (the seed's rule)", frame.source, frame.skipped)
    return frame, info


def _check_enough_rows(frame: TraceFrame, config: TraceGANConfig) -> None:
    train_rows = len(frame) - int(round(len(frame) * config.val_fraction))
    if train_rows < config.seq_len:
        raise DataError(f"{frame.source}: {len(frame)} rows leave {train_rows} for training after "
                        f"val_fraction={config.val_fraction}, fewer than one sequence of seq_len={config.seq_len}")


def train(data: DataConfig, config: TraceGANConfig, options: RunOptions = RunOptions()) -> TrainResult:
    """Train a trace GAN in a tracked MLflow run and (optionally) register it."""
    device = resolve_device(options.device)
    frame, info = load_frame(data, sample_rows=options.sample_rows)
    _check_enough_rows(frame, config)
    fail_if_unreachable()
    seed_everything(config.seed)
    with tracked_run(experiment=options.experiment, run_name=options.run_name, tags=lineage_tags()) as run:
        run_id = run.info.run_id
        log_new_params({**flatten_params("", config.to_dict()), **flatten_params("", vars(data)),
                        "device_resolved": device, "checkpoint_every": str(options.checkpoint_every),
                        **{k: str(v) for k, v in info.items() if k != "data_sha256"}})
        mlflow.set_tags({"data_sha256": str(info["data_sha256"]), "ganflow_kind": "trace-gan"})
        local = Path(options.save_dir) / f"{options.save_prefix}_{run_id}"
        synth = Synthesizer(config, device=device)

        def on_epoch_end(stats) -> None:
            mlflow.log_metrics({"d_loss": stats.d_loss, "g_loss": stats.g_loss,
                                "epoch_seconds": stats.seconds}, step=stats.epoch)

        synth.fit(frame, on_epoch_end=on_epoch_end, checkpoint_dir=local / "checkpoints",
                  checkpoint_every=options.checkpoint_every,
                  on_checkpoint=lambda p: mlflow.log_artifact(str(p), "checkpoints"))
        mlflow.log_dict(synth.transformer.to_dict(), "scaler.json")
        mlflow.log_dict({"history": synth.history, **synth.meta}, "training_history.json")
        from training.mlflow_model import log_synthesizer

        model_info = log_synthesizer(synth, synth.save(local / "model"))
        result = TrainResult(run_id, model_info.model_uri, synth, local, data_info=info)
        if options.register_as:
            last = synth.history[-1]
            tags = {"data_sha256": str(info["data_sha256"]), "epochs": str(last["epoch"]),
                    "final_d_loss": f"{last['d_loss']:.6f}", "final_g_loss": f"{last['g_loss']:.6f}",
                    "source_run_id": run_id}
            version, alias = register_model(model_info.model_uri, options.register_as, tags=tags, alias=options.alias)
            result.registered_version, result.alias = version.version, alias or None
            mlflow.set_tags({"registered_model": options.register_as, "registered_version": version.version})
    return result
