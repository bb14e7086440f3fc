"""``ganflow tune``: an Optuna study over the trace GAN, one MLflow parent run per invocation.

Storage: ``--storage`` (e.g. ``postgresql+psycopg2://user@host/db``) lets many workers on many
machines join one study; by default a SQLite file beside the MLflow store. ``n_trials`` is the
study's total budget of finished trials (complete or pruned), so re-running resumes a study
and concurrent workers share the budget. Heartbeats mark the trial of a killed worker FAIL
once it is stale, so no worker waits on it and no finished trial is lost.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
import optuna
from optuna.trial import TrialState

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.data import load_frame
from training.errors import GanflowError
from training.tracking import ensure_experiment, fail_if_unreachable, lineage_tags, log_new_params, tracked_run
from tuning.objective import Objective
from tuning.options import PRUNERS, TuneOptions
from tuning.space import SearchSpace

__all__ = ["TuneOptions", "TuneResult", "tune", "default_storage", "open_study", "PRUNERS"]

log = logging.getLogger(__name__)
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


@dataclass
class TuneResult:
    study_name: str
    storage: str
    parent_run_id: str
    best_value: float | None
    best_params: dict = field(default_factory=dict)
    registered_version: str | None = None
    alias: str | None = None
    trials: int = 0


def default_storage() -> str:
    """A SQLite file beside the MLflow store (or in the working directory)."""
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        return f"sqlite:///{Path(uri[len('sqlite:///'):]).with_name('optuna.db')}"
    return "sqlite:///optuna.db"


def _pruner(name: str, epochs: int, eval_every: int):
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, eval_every), max_resource=epochs)
    return optuna.pruners.NopPruner()


def open_study(opts: TuneOptions, *, eval_every: int = 1) -> optuna.Study:
    """Create the study once, or load it (idempotent; safe to call before starting workers)."""
    url = opts.storage or default_storage()
    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.RDBStorage(url, engine_kwargs=engine, heartbeat_interval=opts.heartbeat_interval,
                                                 grace_period=opts.grace_period, heartbeat_stale_trial_callback=_end_lost_runs)
    except Exception as exc:  # driver missing, server down, bad URL: one line for the user
        raise GanflowError(f"cannot open Optuna storage {url!r}: {str(exc).splitlines()[0]}") from None
    sampler = optuna.samplers.TPESampler(seed=None if opts.sampler_seed < 0 else opts.sampler_seed)
    return optuna.create_study(study_name=opts.study_name, storage=storage, direction="minimize", sampler=sampler,
                               pruner=_pruner(opts.pruner, opts.epochs_per_trial, eval_every), load_if_exists=True)


def tune(data: DataConfig, base: TraceGANConfig, options: RunOptions, opts: TuneOptions, *,
         create_only: bool = False) -> TuneResult:
    """Run this worker's share of the study's trials under one parent run; register the best."""
    from dataclasses import replace

    from training.utils import resolve_device

    resolve_device(options.device)
    options = replace(options, register_as="", alias="")  # trials never register; the study's best does
    space = SearchSpace.from_yaml(opts.space) if opts.space else SearchSpace()
    frame, info = load_frame(data)
    fail_if_unreachable()
    study = open_study(opts, eval_every=options.eval_every)
    ensure_experiment(options.experiment)
    storage = opts.storage or default_storage()
    if create_only:
        return TuneResult(opts.study_name, storage, "", None)
    objective = Objective(data, frame, info, base, options, space, opts.epochs_per_trial, opts.study_name,
                          opts.prune_on_collapse, opts.objective)
    from training.run_info import SAMPLE_SOURCE, log_trace_datasets
    from training.sequences import time_split

    description = (f"Optuna study {opts.study_name!r} on {info['data_source']}: trials of {opts.epochs_per_trial} "
                   f"epochs scored by {opts.objective}, {opts.pruner} pruner, {opts.n_trials} trials in the study; "
                   "one nested run per trial, the best registered.")
    with tracked_run(experiment=options.experiment, run_name=f"tune-{opts.study_name}", description=description,
                     system_metrics=options.system_metrics,
                     tags={**lineage_tags(), "optuna_study": opts.study_name}) as parent:
        # under `mlflow run` the entry point's own params are already there: add only new keys
        log_new_params({"study_name": opts.study_name, "n_trials": str(opts.n_trials), "pruner": opts.pruner,
                        "epochs_per_trial": str(opts.epochs_per_trial), "objective": opts.objective, "storage_resolved": _redact(storage),
                        "search_space": repr(space)[:6000], "data_source": info["data_source"]})
        log_trace_datasets(frame, source=data.trace_path or SAMPLE_SOURCE, sha256=str(info.get("data_sha256", "")),
                           cut=time_split(len(frame), base.val_fraction))
        budget = optuna.study.MaxTrialsCallback(opts.n_trials, states=_FINISHED)
        if _finished(study) < opts.n_trials:
            from training import progress

            with progress.bar(opts.n_trials, "trials", unit="trial", initial=_finished(study)) as trials:
                def tick(study: optuna.Study, trial) -> None:
                    trials.update(1)
                    done = [t.value for t in study.trials if t.state == TrialState.COMPLETE]
                    if done:
                        trials.set_postfix_str(f"best {opts.objective} {min(done):.4g}")

                study.optimize(objective, n_trials=opts.n_trials, timeout=opts.timeout or None,
                               callbacks=[budget, tick], catch=(GanflowError,), gc_after_trial=True)
        result = TuneResult(opts.study_name, storage, parent.info.run_id, None, trials=_finished(study))
        completed = [t for t in study.trials if t.state == TrialState.COMPLETE]
        mlflow.set_tag("trials_finished", str(result.trials))
        if completed:
            best = min(completed, key=lambda t: t.value)
            result.best_value, result.best_params = best.value, dict(best.params)
            mlflow.log_params({f"best_{k}": v for k, v in best.params.items()})
            mlflow.log_metric(f"best_{opts.objective}", best.value)
            mlflow.set_tag("best_trial", str(best.number))
            mlflow.set_tag("mlflow.note.content", f"{description} Result: {result.trials} finished trials; best "
                                                  f"{opts.objective} {best.value:.4g} (trial {best.number}).")
            if opts.register_as:
                from tuning.champion import register_best

                result.registered_version, result.alias = register_best(study, best, opts.register_as, frame, base,
                                                                         options, opts.objective)
    return result


def _end_lost_runs(study: optuna.Study, trial) -> None:
    """A trial whose worker died (no heartbeat): end its MLflow runs FAILED instead of RUNNING."""
    client = mlflow.MlflowClient()
    try:
        children = mlflow.search_runs(search_all_experiments=True, output_format="list",
                                      filter_string=f"tags.optuna_study = '{study.study_name}' and "
                                                    f"tags.optuna_trial = '{trial.number}'")
        run_ids = [r.info.run_id for r in children] + [trial.user_attrs.get("mlflow_parent_run_id", "")]
        for run_id in filter(None, run_ids):
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_tag(run_id, "error", f"worker lost: trial {trial.number} of {study.study_name} had no heartbeat")
                client.set_tag(run_id, "trial_state", "FAIL")
                client.set_terminated(run_id, "FAILED")
    except Exception as exc:  # best effort: the study must go on
        log.warning("could not end the runs of lost trial %d: %s", trial.number, exc)


def _finished(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=_FINISHED))


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
