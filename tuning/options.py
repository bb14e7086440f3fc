"""Options of a tuning study (no heavy imports: the CLI builds its options from these)."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.config import cli_meta
from training.errors import ConfigError

__all__ = ["TuneOptions", "PRUNERS"]

PRUNERS = ("median", "hyperband", "none")


@dataclass(frozen=True)
class TuneOptions:
    """How a study runs; the searched values themselves are in ``SearchSpace``."""

    study_name: str = field(default="trace-gan", metadata=cli_meta(help="Optuna study (created once, then resumed)"))
    storage: str = field(default="", metadata=cli_meta(
        help="Optuna storage URL, e.g. postgresql+psycopg2://user@host/db; empty: SQLite beside the MLflow store"))
    n_trials: int = field(default=20, metadata=cli_meta(help="the study's total of finished trials, shared by all workers"))
    timeout: float = field(default=0.0, metadata=cli_meta(help="stop this worker after N seconds (0 = no limit)"))
    epochs_per_trial: int = field(default=10, metadata=cli_meta(help="epochs each trial trains"))
    objective: str = field(default="val_mmd2", metadata=cli_meta(
        help="val_mmd2, hrc_mae or composite (the storage scorecard's; see README)"))
    pruner: str = field(default="median", metadata=cli_meta(help="median, hyperband or none"))
    space: str = field(default="", metadata=cli_meta(help="YAML file overriding the search space"))
    register_as: str = field(default="trace-gan", metadata=cli_meta(help="register the best trial here (empty: no)"))
    prune_on_collapse: bool = field(default=True, metadata=cli_meta(help="prune a trial whose losses collapse"))
    sampler_seed: int = field(default=-1, metadata=cli_meta(help="TPE sampler seed (-1: random; give workers different ones)"))
    heartbeat_interval: int = field(default=10, metadata=cli_meta(help="seconds between a running trial's heartbeats"))
    grace_period: int = field(default=30, metadata=cli_meta(help="a trial without heartbeat this long is marked FAIL"))

    def __post_init__(self) -> None:
        from training.scorecard import OBJECTIVES

        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, but got {self.objective!r}")
        if self.pruner not in PRUNERS:
            raise ConfigError(f"pruner must be one of {', '.join(PRUNERS)}, but got {self.pruner!r}")
        if self.n_trials < 0 or self.timeout < 0:
            raise ConfigError(f"n_trials and timeout must be >= 0, but got {self.n_trials=}, {self.timeout=}")
