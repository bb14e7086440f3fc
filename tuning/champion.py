"""Register a study's best trial; it becomes ``@champion`` only if it beats the current champion's
val_mmd2 recomputed on the same validation rows, else ``@challenger``.

Concurrent workers may both try to register the same best trial: each registers, then keeps only
the lowest version carrying the trial's key (the others delete their own), so exactly one
version per trial survives whatever the interleaving.
"""

from __future__ import annotations

import logging

import mlflow
from mlflow.exceptions import MlflowException

from training.config import RunOptions, TraceGANConfig
from training.readers import TraceFrame
from training.sequences import time_split
from training.tracking import register_model

__all__ = ["register_best", "champion_score"]

log = logging.getLogger(__name__)


def _validator(frame: TraceFrame, base: TraceGANConfig, options: RunOptions):
    from training.fidelity import Validator

    cut = time_split(len(frame), base.val_fraction)
    return Validator(frame.slice(cut, len(frame)), sample=options.eval_sample, bandwidth=options.bandwidth)


def champion_score(name: str, frame: TraceFrame, base: TraceGANConfig, options: RunOptions,
                   objective: str = "val_mmd2") -> float | None:
    """The current champion's value of ``objective`` on this data's validation rows, measured as the
    trials are (None if there is no champion)."""
    from training.errors import ModelError
    from training.mlflow_model import load_logged_synthesizer

    try:
        mlflow.MlflowClient().get_model_version_by_alias(name, "champion")
    except MlflowException:
        return None
    try:
        champion = load_logged_synthesizer(f"models:/{name}@champion")
    except ModelError as exc:
        log.warning("current champion cannot be loaded (%s); the new model takes its place", exc)
        return None
    validator = _validator(frame, base, options)
    if objective == "val_mmd2":
        return validator(champion)
    from training.scorecard import TraceData, objective_value, scorecard

    training = frame.slice(0, len(frame) - len(validator.frame))
    card = scorecard(TraceData.from_frame(validator.frame), TraceData.from_matrix(validator.synthetic(champion)),
                     reference=TraceData.from_frame(training))
    return objective_value(objective, None, card)


def register_best(study, best, name: str, frame: TraceFrame, base: TraceGANConfig,
                  options: RunOptions, objective: str = "val_mmd2") -> tuple[str, str]:
    """Register ``best`` (a FrozenTrial with a ``model_uri``) under ``name``; returns (version, alias)."""
    client = mlflow.MlflowClient()
    key = f"{study.study_name}/{best.number}"
    existing = client.search_model_versions(f"name='{name}' and tag.optuna_trial_key='{key}'")
    if existing:
        mv = min(existing, key=lambda v: int(v.version))
        return mv.version, ",".join(mv.aliases) if mv.aliases else ""
    incumbent = champion_score(name, frame, base, options, objective)
    alias = "champion" if incumbent is None or best.value < incumbent else "challenger"
    tags = {"optuna_trial_key": key, objective: repr(best.value), "source_run_id": best.user_attrs["mlflow_run_id"]}
    if incumbent is not None:
        tags[f"champion_{objective}_before"] = repr(incumbent)
    run_note = client.get_run(best.user_attrs["mlflow_run_id"]).data.tags.get("mlflow.note.content", "")
    description = (f"Best trial ({best.number}) of Optuna study {study.study_name!r}: {objective} {best.value:.4g}"
                   f"{'' if incumbent is None else f' (champion before: {incumbent:.4g})'}; run "
                   f"{best.user_attrs['mlflow_run_id']}. {run_note}")
    from training.pipeline import MODEL_DESCRIPTION

    version, _ = register_model(best.user_attrs["model_uri"], name, tags=tags, alias="", description=description,
                                model_description=MODEL_DESCRIPTION)
    survivors = client.search_model_versions(f"name='{name}' and tag.optuna_trial_key='{key}'")
    keep = min(survivors, key=lambda v: int(v.version))
    if keep.version != version.version:
        client.delete_model_version(name, version.version)
        return keep.version, alias
    client.set_registered_model_alias(name, alias, version.version)
    log.info("trial %s registered as %s/%s @%s (%s %.6g vs champion %s)", key, name, version.version,
             alias, objective, best.value, incumbent)
    return version.version, alias
