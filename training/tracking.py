"""MLflow bookkeeping: experiments, runs that end FAILED with a reason, lineage tags, registry.

The tracking URI is whatever MLflow resolves (``MLFLOW_TRACKING_URI`` or its default, an
embedded SQLite store ``sqlite:///mlflow.db``); nothing here assumes a server, and everything
works against one. Under ``mlflow run`` the run already exists (``MLFLOW_RUN_ID``) and is reused.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException

from training.errors import GanflowError, ModelError

__all__ = ["ensure_experiment", "tracked_run", "lineage_tags", "register_model", "flatten_params", "log_new_params",
           "fail_if_unreachable", "short_number", "log_dataset", "describe_model", "source_keys"]

log = logging.getLogger(__name__)


EXPERIMENT_NOTES = {
    "trace-gan": "Training runs of the trace GAN (synthetic block I/O traces): one run per `ganflow train`.",
    "trace-gan-tune": "Optuna studies of the trace GAN: a parent run per `ganflow tune`, a nested run per trial.",
    "trace-gan-eval": "Storage scorecards of synthetic traces against real ones (`ganflow evaluate --log-run`).",
    "trace-gan-export": "ONNX exports of registered trace GANs (`ganflow export`).",
    "trace-gan-synthesis": "Batch synthesis jobs: what was written from which model version (`ganflow generate`).",
    "trace-gan-compare": "Side-by-side scorecards of trace runs (`ganflow compare --log-run`).",
    "mfcc-wgan-gp": "Training runs of the conditional WGAN-GP for labelled feature vectors (`ganflow train-features`).",
    "augmentation-eval": "Downstream utility of GAN augmentation against SMOTE and friends (`ganflow evaluate-augmentation`).",
}


def ensure_experiment(name: str) -> str:
    """Return the id of experiment ``name``, creating it once (tolerating a concurrent creator);
    a new experiment gets its description from ``EXPERIMENT_NOTES``."""
    exp = mlflow.get_experiment_by_name(name)
    if exp is not None:
        return exp.experiment_id
    try:
        exp_id = mlflow.create_experiment(name)
    except MlflowException:
        exp = mlflow.get_experiment_by_name(name)
        if exp is None:
            raise
        return exp.experiment_id
    _describe_experiment(exp_id, name)
    return exp_id


def _describe_experiment(exp_id: str, name: str) -> None:
    """Give experiment ``exp_id`` its ``EXPERIMENT_NOTES`` description (best effort)."""
    note = EXPERIMENT_NOTES.get(name, "Runs recorded by ganflow.")
    with contextlib.suppress(MlflowException):
        mlflow.MlflowClient().set_experiment_tag(exp_id, "mlflow.note.content", note)


@contextlib.contextmanager
def tracked_run(*, experiment: str | None, run_name: str, nested: bool = False,
                tags: dict[str, str] | None = None, finish_on: tuple[type[BaseException], ...] = (),
                run_id: str | None = None, description: str = "",
                system_metrics: bool = False) -> Iterator[mlflow.ActiveRun]:
    """Start (or, under ``mlflow run``, resume) a run; on any error end it FAILED with the reason.

    Every run is named by its caller (``run_name``, e.g. ``gan-typed-lr5e-4-s42``): MLflow's own
    names come from Python's ``random``, which training seeds, so they would all be the same.
    ``description`` is the run's note in the UI; ``system_metrics`` samples CPU, memory, disk and
    GPU (psutil) while the run is open.
    ``MLFLOW_RUN_ID`` wins over ``experiment`` so that ``mlflow run`` keeps one run per job; a
    nested run goes in its parent's experiment. ``run_id`` reopens an existing run (resume).
    Exceptions in ``finish_on`` (a pruned trial) end the run FINISHED, with their class name in
    the ``stopped_by`` tag, and propagate. If the server is gone, ending the run is given up
    quietly and the original error propagates.
    """
    experiment_id, job_run = None, os.environ.get("MLFLOW_RUN_ID")  # start_run removes it from the environment
    parent = mlflow.active_run()
    if nested and parent is not None:
        experiment_id = parent.info.experiment_id
    elif experiment and not job_run and run_id is None:
        experiment_id = ensure_experiment(experiment)
    kw = dict(description=description or None, log_system_metrics=system_metrics or None)
    if run_id is not None:
        run = mlflow.start_run(run_id=run_id, nested=nested, **kw)
    else:
        run = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, nested=nested, tags=tags, **kw)
        if job_run == run.info.run_id:  # `mlflow run` made it, named, in its experiment
            if run_name:
                mlflow.set_tag("mlflow.runName", run_name)
            exp = mlflow.get_experiment(run.info.experiment_id)
            if exp.name in EXPERIMENT_NOTES and "mlflow.note.content" not in exp.tags:  # `--experiment-name trace-gan`
                _describe_experiment(exp.experiment_id, exp.name)
    try:
        yield run
    except finish_on as exc:
        mlflow.set_tag("stopped_by", f"{type(exc).__name__}: {exc}"[:5000])
        mlflow.end_run("FINISHED")
        raise
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}"[:5000]
        with contextlib.suppress(Exception):
            mlflow.set_tag("error", reason)
        with contextlib.suppress(Exception):
            mlflow.end_run("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    else:
        mlflow.end_run("FINISHED")


def _git_commit() -> str | None:
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def lineage_tags() -> dict[str, str]:
    """Git commit (when available) and the versions of the libraries that shape the result (read
    from the installed packages' metadata: importing torch for its version costs a second)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("torch", "numpy", "mlflow", "onnxruntime", "ganflow"):
        with contextlib.suppress(PackageNotFoundError):
            versions[package] = version(package)
    tags = {"versions": json.dumps(versions, sort_keys=True)}
    commit = _git_commit()
    if commit:
        tags["git_commit"] = commit
    return tags


def log_new_params(params: dict[str, str]) -> None:
    """Log params not yet on the active run (``mlflow run`` logs the entry point's own first,
    and MLflow refuses to change a logged value, even from ``''`` to ``""``)."""
    run = mlflow.active_run()
    existing = mlflow.get_run(run.info.run_id).data.params if run else {}
    fresh = {k: v for k, v in params.items() if k not in existing}
    if fresh:
        mlflow.log_params(fresh)


def source_keys(lineage: dict[str, str]) -> dict[str, str]:
    """A source model's lineage as params/tags of a run made from it: ``source_<key>``, never
    ``source_source_<key>``."""
    return {(k if k.startswith("source_") else f"source_{k}"): v for k, v in lineage.items()}


def short_number(v: float) -> str:
    """A float as the UI should show it: 4 significant digits (``4.276e-05``, ``0.0005``, ``0.2``)."""
    return f"{v:.4g}"


def flatten_params(prefix: str, values: dict[str, Any]) -> dict[str, str]:
    """``{"lr_g": 2e-5}`` -> ``{"prefix.lr_g": "2e-05"}``; lists become comma-joined strings and
    floats keep 4 significant digits (exact values are in the run's ``run_config.json``)."""
    out = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, (list, tuple)):
            out[key] = ",".join(map(str, v))
        elif isinstance(v, float):
            out[key] = short_number(v)
        else:
            out[key] = "" if v is None else str(v)
    return out


class _ProfiledDataset(MetaDataset):
    """MLflow's metadata-only dataset with a profile (MLflow's own has none)."""

    def __init__(self, *args, profile: dict[str, Any], **kwargs) -> None:
        self._profile = profile
        super().__init__(*args, **kwargs)

    @property
    def profile(self) -> dict[str, Any]:
        return self._profile

    def to_dict(self) -> dict[str, str]:
        return {**super().to_dict(), "profile": json.dumps(self._profile)}


def log_dataset(*, source: str, name: str, sha256: str, context: str, profile: dict[str, Any],
                columns: dict[str, str]) -> None:
    """Log a data file as an MLflow dataset input of the active run (the UI's Datasets column).

    The digest is the first 32 hex digits of the content's sha256 (MLflow keeps at most 36
    characters; the full one is in the profile); ``columns`` maps column names to MLflow types.
    """
    from mlflow.data.sources import LocalArtifactDatasetSource
    from mlflow.types.schema import ColSpec, Schema

    schema = Schema([ColSpec(kind, col) for col, kind in columns.items()])
    dataset = _ProfiledDataset(LocalArtifactDatasetSource(source), name=name[:500], digest=sha256[:32], schema=schema,
                               profile={**profile, "sha256": sha256})
    for attempt in range(4):
        try:
            mlflow.log_input(dataset, context=context)
            return
        except MlflowException as exc:
            # two runs logging the same new dataset at once race in MLflow's store (check, then insert):
            # the loser sees a unique-key violation; once the winner's row exists, a retry links to it
            if "duplicate key" not in str(exc) and "UNIQUE constraint" not in str(exc) or attempt == 3:
                raise
            time.sleep(0.2 * (attempt + 1))


def describe_model(name: str, description: str, version: str | None = None) -> None:
    """Set the description of a registered model, or of one of its versions."""
    client = mlflow.MlflowClient()
    if version is None:
        client.update_registered_model(name, description=description)
    else:
        client.update_model_version(name, version, description=description)


def register_model(model_uri: str, name: str, *, tags: dict[str, str], alias: str = "auto", description: str = "",
                   model_description: str = ""):
    """Register ``model_uri`` as a new version of ``name``, tag it, and point an alias at it.

    ``alias="auto"`` gives ``champion`` to the first version and ``challenger`` to later ones
    (tuning replaces this with a comparison on validation MMD²); ``""`` sets no alias.
    ``description`` describes the version; ``model_description`` the registered model, when it
    has none yet.
    """
    client = mlflow.MlflowClient()
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints "Created version …" itself
            version = mlflow.register_model(model_uri, name, tags=tags)
    except MlflowException as exc:
        raise ModelError(f"cannot register {model_uri} as {name!r}: {exc.message}") from None
    if description:
        describe_model(name, description, version.version)
    if model_description and not client.get_registered_model(name).description:
        describe_model(name, model_description)
    if alias == "auto":
        try:
            client.get_model_version_by_alias(name, "champion")
            alias = "challenger"
        except MlflowException:
            alias = "champion"
    if alias:
        client.set_registered_model_alias(name, alias, version.version)
    log.info("registered %s version %s%s", name, version.version, f" as @{alias}" if alias else "")
    return version, alias


def fail_if_unreachable() -> None:
    """Raise a one-line ``GanflowError`` within seconds if the tracking server does not answer."""
    uri = mlflow.get_tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    import urllib.request

    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=5) as resp:
            resp.read()
    except OSError as exc:
        raise GanflowError(f"MLflow tracking server {uri} is unreachable ({exc}); "
                           "check MLFLOW_TRACKING_URI") from None
