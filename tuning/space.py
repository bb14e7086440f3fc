"""The tuning search space: what Optuna may change in a ``TraceGANConfig``, with defaults in one
place and an optional YAML override (keys as the dataclass fields; lists for categorical
choices, ``[low, high]`` for log-uniform learning rates; an empty list leaves a field alone)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from pathlib import Path

from training.config import TraceGANConfig
from training.errors import ConfigError

__all__ = ["SearchSpace"]


@dataclass(frozen=True)
class SearchSpace:
    """D:G ratio, learning rates (log-uniform), batch size and seq_len; the LRU-stack buckets of a
    ``locality="lru"`` model and the joined windows of a ``carry_state`` one, G's moment term (off or
    weight 1) outside the absolute feature mode; optionally the widths, the typed features' continuous
    encoding (e.g. ``continuous: [quantile, normal]`` in the YAML), whether calibration includes the
    address head (``calibrate_address: [true, false]``) and fits the sizes given the address action
    (``calibrate_by_action: [true, false]``), which pages the LRU stack holds (``locality: [lru,
    lru-pages]``: a trade between the request reuse rate and the page miss-ratio curves), G's slow latent inputs (``slow_noise: [0, 3]``),
    its noise path to the continuous outputs (``noise_skip: [true, false]``), the heads' kept noise
    (``sticky_heads: [true, false]``), G's window-shape term (``window_weight: [0, 1]``), the slow
    levels of gaps and latency (``levels: [true, false]``) and the opcode's read/write phases
    (``phases: [true, false]``)."""

    ratios: tuple[str, ...] = ("1:1", "1:2", "1:3", "2:1", "3:1")
    lr_g: tuple[float, float] = (1e-5, 1e-3)
    lr_d: tuple[float, float] = (1e-5, 1e-3)
    batch_size: tuple[int, ...] = (32, 64, 128, 256)
    seq_len: tuple[int, ...] = (8, 12, 16, 24)
    hidden_dim: tuple[int, ...] = field(default=())
    latent_dim: tuple[int, ...] = field(default=())
    continuous: tuple[str, ...] = field(default=())
    reuse_buckets: tuple[int, ...] = (4, 8, 16)
    join_windows: tuple[int, ...] = (0, 1)
    moment_weight: tuple[float, ...] = (0.0, 1.0)
    calibrate_address: tuple[bool, ...] = field(default=())  # e.g. [true, false] in the YAML: a miss-ratio objective
    calibrate_by_action: tuple[bool, ...] = field(default=())
    locality: tuple[str, ...] = field(default=())  # e.g. [lru, lru-pages]: where the model has an LRU stack
    slow_noise: tuple[int, ...] = field(default=())
    noise_skip: tuple[bool, ...] = field(default=())
    sticky_heads: tuple[bool, ...] = field(default=())
    window_weight: tuple[float, ...] = field(default=())  # e.g. [0, 1]: detection against burstiness (docs/QUALITY.md)
    levels: tuple[bool, ...] = field(default=())  # e.g. [true, false]: fitted after training, no training cost
    phases: tuple[bool, ...] = field(default=())  # e.g. [true, false]: fitted after training, no training cost

    def __post_init__(self) -> None:
        for r in self.ratios:
            parts = r.split(":")
            if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
                raise ConfigError(f"ratios must look like 'D:G' with positive integers, but got {r!r}")
        from training.config import CONTINUOUS_ENCODINGS, LOCALITY

        stacks = tuple(x for x in LOCALITY if x != "none")  # a searched stack, never none: no locality to search
        for name, valid in (("continuous", CONTINUOUS_ENCODINGS), ("locality", stacks)):
            bad = [c for c in getattr(self, name) if c not in valid]
            if bad:
                raise ConfigError(f"{name} choices must be among {', '.join(valid)}, but got {bad}")
        for name in ("lr_g", "lr_d"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ConfigError(f"{name} must be [low, high] with 0 < low <= high, but got {[low, high]}")

    @classmethod
    def from_yaml(cls, path: str | Path) -> SearchSpace:
        import yaml

        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the search space ({exc})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"{path}: unknown search-space keys {unknown}; valid: {sorted(names)}")
        return cls(**{k: tuple(str(x) if k in ("ratios", "continuous", "locality") else x for x in v) for k, v in data.items()})

    def suggest(self, trial, base: TraceGANConfig) -> TraceGANConfig:
        """A config for ``trial``: ``base`` with the searched fields suggested."""
        d, g = (int(x) for x in trial.suggest_categorical("d_g_ratio", list(self.ratios)).split(":"))
        changes = {"d_updates": d, "g_updates": g,
                   "lr_g": trial.suggest_float("lr_g", *self.lr_g, log=True),
                   "lr_d": trial.suggest_float("lr_d", *self.lr_d, log=True)}
        locality = base.feature_mode == "typed" and base.locality != "none"
        applies = {"reuse_buckets": locality, "join_windows": base.carry_state,
                   "moment_weight": base.feature_mode != "absolute", "calibrate_address": locality and base.calibrate,
                   "calibrate_by_action": locality and base.calibrate, "locality": locality,
                   "slow_noise": base.carry_state, "noise_skip": base.feature_mode == "typed",
                   "sticky_heads": base.carry_state and base.feature_mode == "typed",
                   "window_weight": base.feature_mode == "typed",
                   "levels": base.feature_mode == "typed" and base.carry_state and base.calibrate,
                   "phases": base.feature_mode == "typed" and base.carry_state and base.calibrate}
        for name in ("batch_size", "seq_len", "hidden_dim", "latent_dim", "continuous", "reuse_buckets", "join_windows",
                     "moment_weight", "calibrate_address", "calibrate_by_action", "locality", "slow_noise", "noise_skip",
                     "sticky_heads", "window_weight", "levels", "phases"):
            choices = getattr(self, name)
            if choices and applies.get(name, True):
                changes[name] = trial.suggest_categorical(name, list(choices))
        return replace(base, **changes)
