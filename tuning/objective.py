"""One Optuna trial = one nested MLflow run of ``training.pipeline.train``, scored by its objective.

The objective is the last ``val_mmd2`` (default), or the storage scorecard's ``hrc_mae`` or
``composite`` of the run's final rollout (``training.scorecard.objective_value``).

Trials are logged from the objective itself (optuna-integration's MLflowCallback is
deprecated): the child run gets the trial's params through the normal training run, tags
``optuna_study`` / ``optuna_trial`` / ``trial_state``; with the ``val_mmd2`` objective every
``val_mmd2`` is also reported to Optuna, whose pruner may stop the trial (the scorecard
objectives are known only at the end, so those trials are not pruned by value). A collapse of the losses (``d_wins`` / ``g_wins``,
docs/REFERENCE.md R8) prunes too when ``prune_on_collapse`` is set.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import mlflow
import optuna

from training.config import DataConfig, RunOptions, TraceGANConfig
from training.diagnostics import COLLAPSES
from training.errors import ConfigError
from training.pipeline import train
from training.readers import TraceFrame
from tuning.space import SearchSpace

__all__ = ["Objective"]

log = logging.getLogger(__name__)


@dataclass
class Objective:
    """Callable objective; ``frame`` is read once per worker and shared by its trials."""

    data: DataConfig
    frame: TraceFrame
    data_info: dict
    base: TraceGANConfig
    options: RunOptions
    space: SearchSpace
    epochs_per_trial: int
    study_name: str
    prune_on_collapse: bool = True
    objective: str = "val_mmd2"

    def __post_init__(self) -> None:
        if self.base.val_fraction <= 0:
            raise ConfigError("tuning scores val_mmd2 on held-out rows: val_fraction must be > 0")
        if self.epochs_per_trial < 1:
            raise ConfigError(f"epochs_per_trial must be >= 1, but got epochs_per_trial={self.epochs_per_trial}")

    def __call__(self, trial: optuna.Trial) -> float:
        config = self.space.suggest(trial, replace(self.base, num_epochs=self.epochs_per_trial))
        tags = {"optuna_study": self.study_name, "optuna_trial": str(trial.number)}
        epochs = []
        parent = mlflow.active_run()
        if parent is not None:
            trial.set_user_attr("mlflow_parent_run_id", parent.info.run_id)

        def report(epoch: int, value: float, health: str) -> None:
            run = mlflow.active_run()
            if not epochs:
                trial.set_user_attr("mlflow_run_id", run.info.run_id)
            epochs.append(epoch)
            trial.set_user_attr("epochs", epoch)
            trial.set_user_attr("loss_health", health)
            if self.objective == "val_mmd2":
                trial.report(value, epoch)
            if self.prune_on_collapse and health in COLLAPSES:
                mlflow.set_tag("trial_state", "PRUNED")
                raise optuna.TrialPruned(f"loss collapse ({health}) at epoch {epoch}")
            if trial.should_prune():
                mlflow.set_tag("trial_state", "PRUNED")
                raise optuna.TrialPruned(f"val_mmd2 {value:.6g} at epoch {epoch}")

        try:
            options = replace(self.options, run_name=f"trial-{trial.number}")
            result = train(self.data, config, options, callbacks=[report], nested=True, frame=self.frame,
                           data_info=self.data_info, finish_on=(optuna.TrialPruned,), tags=tags)
        except optuna.TrialPruned:
            raise
        except Exception:
            run_id = trial.user_attrs.get("mlflow_run_id")
            if run_id:
                mlflow.MlflowClient().set_tag(run_id, "trial_state", "FAIL")
            raise
        from training.scorecard import objective_value

        value = objective_value(self.objective, result.final_val_mmd2, result.fidelity["scorecard"])
        mlflow.MlflowClient().set_tag(result.run_id, "trial_state", "COMPLETE")
        trial.set_user_attr("mlflow_run_id", result.run_id)
        trial.set_user_attr("model_uri", result.model_uri)
        log.info("trial %d: %s %.6g (%s)", trial.number, self.objective, value, trial.params)
        return value
