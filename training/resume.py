"""Resuming a killed or failed training run: its own data and config, its last checkpoint.

A run records ``run_config.json`` (data and model config) when it starts and a checkpoint every
``checkpoint_every`` epochs, locally first and then as an artifact. ``--resume RUN_ID`` reopens
that run, checks the data is the same bytes, and continues from the newest checkpoint it can
find (the local folder, else the run's artifacts), so a kill loses at most one checkpoint
interval. Artifact names are matched against ``checkpoint_epoch_<N>.pt`` and nothing else.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from pathlib import Path

import mlflow
from mlflow.exceptions import MlflowException

from training.checkpoints import checkpoint_epoch, checkpoint_name
from training.config import DataConfig, TraceGANConfig
from training.errors import ConfigError, DataError
from training.utils import inside

__all__ = ["RUN_CONFIG", "run_config", "resume_spec", "unfinished_run_config", "resume_point", "latest_checkpoint",
           "check_same_data", "checkpoint_epoch"]

log = logging.getLogger(__name__)
RUN_CONFIG = "run_config.json"
_KIND_WORDS = {"trace-gan": "trace-GAN", "mfcc-wgan-gp": "feature-GAN"}


def run_config(data: DataConfig, config: TraceGANConfig) -> dict:
    """What ``resume_spec`` needs, with the trace path made absolute (a resume may run elsewhere)."""
    d = {f.name: getattr(data, f.name) for f in fields(DataConfig)}
    if d["trace_path"]:
        d["trace_path"] = str(Path(d["trace_path"]).resolve())
    return {"data": d, "config": config.to_dict()}


def _run(run_id: str):
    try:
        return mlflow.MlflowClient().get_run(run_id)
    except MlflowException as exc:
        raise ConfigError(f"--resume {run_id}: no such run ({exc.message.splitlines()[0]})") from None


def unfinished_run_config(run_id: str, kind: str) -> dict:
    """The ``run_config.json`` of run ``run_id``, which must be an unfinished ganflow ``kind`` run
    (its ``ganflow_kind`` tag: ``trace-gan`` or ``mfcc-wgan-gp``)."""
    run = _run(run_id)
    if run.data.tags.get("ganflow_kind") != kind:
        raise ConfigError(f"--resume {run_id}: not a ganflow {_KIND_WORDS.get(kind, kind)} training run")
    if run.info.status == "FINISHED":
        raise ConfigError(f"--resume {run_id}: the run finished; nothing to resume")
    try:
        return mlflow.artifacts.load_dict(f"{run.info.artifact_uri.rstrip('/')}/{RUN_CONFIG}")
    except (MlflowException, OSError, ValueError) as exc:
        raise ConfigError(f"--resume {run_id}: cannot read its {RUN_CONFIG} ({type(exc).__name__}: {exc})") from None


def resume_spec(run_id: str) -> tuple[DataConfig, TraceGANConfig]:
    """The data and model config of run ``run_id``, which must be an unfinished trace-GAN run."""
    spec = unfinished_run_config(run_id, "trace-gan")
    try:
        return DataConfig(**spec["data"]), TraceGANConfig.from_dict(spec["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"--resume {run_id}: cannot read its {RUN_CONFIG} ({type(exc).__name__}: {exc})") from None


def check_same_data(run_id: str, data_info: dict) -> None:
    """Refuse to resume on data whose bytes differ from what the run trained on."""
    recorded = _run(run_id).data.tags.get("data_sha256", "")
    if recorded and recorded != data_info.get("data_sha256"):
        raise DataError(f"{data_info.get('data_source')}: sha256 {data_info.get('data_sha256', '')[:12]}… differs "
                        f"from run {run_id}'s {recorded[:12]}…; the data changed since the run started")


def resume_point(run_id: str, local_dir: Path) -> Path | None:
    """Inside the reopened run: its newest checkpoint (``latest_checkpoint``), recorded in the
    ``resumed_from`` tag and a warning; None means it starts over (no checkpoint was written)."""
    checkpoint = latest_checkpoint(run_id, local_dir)
    mlflow.set_tag("resumed_from", checkpoint.name if checkpoint else "start (no checkpoint)")
    log.warning("resuming run %s from %s", run_id, checkpoint or "the start (no checkpoint was written)")
    return checkpoint


def latest_checkpoint(run_id: str, local_dir: Path) -> Path | None:
    """The newest checkpoint of the run: in ``local_dir``, or downloaded into it from the run's
    artifacts when those hold a newer one."""
    local = [(e, p) for p in local_dir.glob("checkpoint_epoch_*.pt") if (e := checkpoint_epoch(p.name)) is not None]
    best_epoch, best = max(local, default=(0, None), key=lambda t: t[0])
    try:
        remote = [e for a in mlflow.MlflowClient().list_artifacts(run_id, "checkpoints")
                  if (e := checkpoint_epoch(Path(a.path).name)) is not None]
    except MlflowException as exc:
        log.warning("cannot list run %s's checkpoint artifacts (%s); using local ones", run_id, exc.message)
        remote = []
    epoch = max(remote, default=0)
    if epoch <= best_epoch:
        return best
    local_dir.mkdir(parents=True, exist_ok=True)
    name = checkpoint_name(epoch)  # rebuilt from the number: no path from the store is used
    got = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=f"checkpoints/{name}", dst_path=str(local_dir))
    return inside(local_dir, Path(got).name)
