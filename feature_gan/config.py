"""The feature GAN's configs: ``FeatureGANConfig`` (the reference recipe's constants, what
determines the trained weights) and ``FeatureRunOptions`` (how a job is run and recorded); the
CLI and the MLproject take their defaults from here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from training.config import cli_meta
from training.errors import ConfigError

__all__ = ["FeatureGANConfig", "FeatureInput", "FeatureRunOptions", "FeatureTuneOptions", "REDUCTIONS"]

REDUCTIONS = ("mean", "mean_std")


@dataclass(frozen=True)
class FeatureGANConfig:
    """The reference recipe's constants (``GAN_NOISE_DIM``, ``GAN_HIDDEN_DIM``, …; docs/REFERENCE.md)
    plus batch size, epochs and seed."""

    noise_dim: int = field(default=100, metadata=cli_meta(help="noise vector dimension"))
    hidden_dim: int = field(default=256, metadata=cli_meta(help="hidden layer width"))
    num_layers: int = field(default=3, metadata=cli_meta(help="hidden layers in G and the critic"))
    dropout: float = field(default=0.2, metadata=cli_meta(help="generator dropout"))
    n_critic: int = field(default=5, metadata=cli_meta(help="critic steps per generator step"))
    lambda_gp: float = field(default=10.0, metadata=cli_meta(help="gradient penalty coefficient"))
    lr: float = field(default=5e-5, metadata=cli_meta(help="Adam learning rate (both networks)"))
    beta1: float = field(default=0.5, metadata=cli_meta(help="Adam beta1"))
    beta2: float = field(default=0.9, metadata=cli_meta(help="Adam beta2 (0.9 as in the WGAN-GP paper)"))
    batch_size: int = field(default=64, metadata=cli_meta(help="samples per batch"))
    epochs: int = field(default=100, metadata=cli_meta(help="passes over the data"))
    seed: int = field(default=42, metadata=cli_meta(help="seeds weights, batches and noise"))

    def __post_init__(self) -> None:
        for name in ("noise_dim", "hidden_dim", "num_layers", "n_critic", "batch_size", "epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name} must be a positive integer, but got {name}={v!r}")
        if not self.lr > 0 or not self.lambda_gp >= 0 or not 0 <= self.dropout < 1:
            raise ConfigError(f"need lr > 0, lambda_gp >= 0, 0 <= dropout < 1, but got lr={self.lr}, "
                              f"lambda_gp={self.lambda_gp}, dropout={self.dropout}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureGANConfig:
        return cls(**data)


@dataclass(frozen=True)
class FeatureInput:
    """How a feature table is read (``feature_gan.data.load_features``)."""

    reduce: str = field(default="mean", metadata=cli_meta(
        help="2-D frames × coefficients per sample: mean over frames, or mean_std (mean then std)"))
    feature_columns: str = field(default="mfcc{1..13}_mean", metadata=cli_meta(
        help="CSV input: feature columns; {a..b} expands"))
    label_column: str = field(default="label", metadata=cli_meta(help="CSV input: label column"))

    def __post_init__(self) -> None:
        if self.reduce not in REDUCTIONS:
            raise ConfigError(f"reduce must be one of {', '.join(REDUCTIONS)}, but got {self.reduce!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FeatureRunOptions:
    """How a feature-GAN job is run and recorded (nothing here changes the trained weights)."""

    experiment: str = field(default="mfcc-wgan-gp", metadata=cli_meta(help="MLflow experiment"))
    register_as: str = field(default="mfcc-wgan-gp", metadata=cli_meta(help="registered model name (empty: do not register)"))
    checkpoint_every: int = field(default=10, metadata=cli_meta(help="checkpoint every N epochs (and the last); 0 = last only"))
    save_dir: str = field(default="checkpoints", metadata=cli_meta(help="local folder for checkpoints and the final model"))

    def __post_init__(self) -> None:
        if self.checkpoint_every < 0:
            raise ConfigError(f"checkpoint_every must be >= 0, but got checkpoint_every={self.checkpoint_every}")


@dataclass(frozen=True)
class FeatureTuneOptions:
    """``ganflow tune-features``: an Optuna search of the feature GAN scored by downstream utility
    on validation splits carved from the data it is given (feature_gan.tune)."""

    study_name: str = field(default="feature-gan", metadata=cli_meta(help="Optuna study (and parent run) name"))
    storage: str = field(default="", metadata=cli_meta(
        help="Optuna storage URL (sqlite:///…, postgresql://…); empty: in memory"))
    n_trials: int = field(default=24, metadata=cli_meta(help="trials of this invocation"))
    timeout: float = field(default=0.0, metadata=cli_meta(help="stop starting trials after this many seconds; 0 = no limit"))
    val_fraction: float = field(default=0.25, metadata=cli_meta(
        help="share of each class held out for validation in every split (stratified)"))
    val_splits: int = field(default=2, metadata=cli_meta(help="validation splits per trial (the objective is their mean)"))
    experiment: str = field(default="feature-gan-tune", metadata=cli_meta(help="MLflow experiment"))
    register_as: str = field(default="mfcc-wgan-gp", metadata=cli_meta(
        help="register the best configuration, trained on all the data (empty: do not)"))
    seed: int = field(default=0, metadata=cli_meta(help="seeds the sampler and the validation splits"))

    def __post_init__(self) -> None:
        if self.n_trials < 1 or self.val_splits < 1 or not 0 < self.val_fraction < 1 or self.timeout < 0:
            raise ConfigError(f"need n_trials, val_splits >= 1, 0 < val_fraction < 1, timeout >= 0, but got "
                              f"n_trials={self.n_trials}, val_splits={self.val_splits}, val_fraction={self.val_fraction}, "
                              f"timeout={self.timeout}")
