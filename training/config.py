"""Typed configs: the single source of defaults for the CLI, the MLproject and tuning.

``TraceGANConfig`` fully defines a trace GAN (preprocessing, architecture, optimisation) and is
stored with every model, as nanoGPT stores its config in the checkpoint. Its defaults are the
winner of ``bench/quality.py`` (docs/QUALITY.md): typed fields (quantile-encoded inter-arrival
times and latency, categorical sizes and opcode), BCE with logits, Adam 5e-4 for both networks,
1 D : 1 G, the best validated epoch kept; the architecture and batch are the reference recipe's
(docs/REFERENCE.md). ``SEED_RECIPE`` holds that recipe's preprocessing and rates (``--seed_recipe``
on the CLI). ``DataConfig`` says
where the rows come from; ``RunOptions`` how a job is run and recorded (nothing in it changes
the trained weights). """

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from training.errors import ConfigError

__all__ = ["TraceGANConfig", "DataConfig", "RunOptions", "FEATURE_MODES", "FEATURE_MODE_ALIASES", "READ_FORMAT_ALIASES",
           "WRITE_FORMAT_ALIASES", "TRACE_COLUMNS", "SEED_RECIPE",
           "cli_meta", "ROW_COLUMNS", "CONTINUOUS_ENCODINGS", "LOSSES", "LOCALITY"]

TRACE_COLUMNS = ("timestamp", "length", "lba", "latency")
ROW_COLUMNS = (*TRACE_COLUMNS, "opcode")  # what sampling yields; a column a model lacks is NaN
FEATURE_MODES = ("absolute", "delta", "typed")
# Earlier spellings, still accepted where a value is read (CLI, MLproject, saved models): the
# reference recipe (docs/REFERENCE.md) called several different things "seed".
FEATURE_MODE_ALIASES = {"seed": "absolute"}
READ_FORMAT_ALIASES = {"seed": "text6", "seed_synth": "text4"}
WRITE_FORMAT_ALIASES = {"seed": "text4"}
CONTINUOUS_ENCODINGS = ("log", "quantile", "normal")
LOSSES = ("bce", "wgan-gp")
# Keys a config saved before they existed lacks, with the behaviour it was trained with.
_LEGACY_DEFAULTS: dict[str, Any] = {"loss": "bce", "keep_best": False, "locality": "none", "carry_state": False,
                                    "join_windows": 1, "moment_weight": 0.0, "calibrate": False, "address_first": False,
                                    "noise_skip": False, "slow_noise": 0, "sticky_heads": False,
                                    "select_calibrated": False, "burn_in": 0, "window_weight": 0.0,
                                    "levels": False, "select_detection": 0.0, "select_burst": 0.0,
                                    "phases": False}
LOCALITY = ("lru", "lru-pages", "none")
SLOW_TAUS = (16, 256, 4096)  # rows: the time constants of G's slow latent inputs (slow_noise)
SELECT_DETECTION, SELECT_BURST = 0.2, 0.025  # keep_best's weights beside val_fields (docs/QUALITY.md)
MOMENT_WEIGHT = 0.0  # off: measured as a trade, not a win (docs/QUALITY.md); tune searches 0 and 1


def slow_decay(i: int) -> float:
    """The AR(1) coefficient of slow input ``i``: its correlation from one row to the next."""
    return 1.0 - 1.0 / SLOW_TAUS[i]


def cli_meta(*names: str, help: str) -> dict[str, Any]:  # noqa: A002 (click's word)
    """Field metadata: extra CLI spellings (the reference recipe's, e.g. ``--lrG``) and the help text."""
    return {"cli": names, "help": help}


# The reference recipe's preprocessing and optimisation (docs/REFERENCE.md R2, R5); the rest of the
# defaults (batch 128, hidden 66, latent 16, seq 12, 50 epochs) are already its own.
SEED_RECIPE: dict[str, Any] = {"feature_mode": "absolute", "log1p": (), "lr_g": 2e-5, "lr_d": 3e-5, "d_updates": 1,
                               "g_updates": 2, "loss": "bce", "keep_best": False, "carry_state": False,
                               "join_windows": 1, "moment_weight": 0.0, "calibrate": False, "slow_noise": 0,
                               "noise_skip": False, "sticky_heads": False, "window_weight": 0.0,
                               "levels": False, "phases": False}


@dataclass(frozen=True)
class TraceGANConfig:
    """Everything that determines a trained trace GAN, given the same data."""

    feature_mode: str = field(default="typed", metadata=cli_meta(
        help="absolute: per-column MinMax [-1,1] of the columns as they are (the reference recipe; earlier name "
             "seed); delta: inter-arrival times; typed: inter-arrival "
             "times, categorical sizes and opcode, optional latency (README: encodings)"))
    log1p: tuple[str, ...] = field(default=("timestamp", "length", "latency"), metadata=cli_meta(
        help="delta mode: columns to log1p before scaling (timestamp means the inter-arrival time)"))
    continuous: str = field(default="quantile", metadata=cli_meta(
        help="typed mode: encoding of inter-arrival time, latency and odd sizes: log (log1p, MinMax), quantile "
             "(quantiles spread uniformly) or normal (quantiles as a scaled normal)"))
    size_coverage: float = field(default=0.99, metadata=cli_meta(
        help="typed mode: the most common sizes covering this share of requests are categories; the rest "
             "share one 'other' category decoded to the trace's alignment"))
    locality: str = field(default="lru", metadata=cli_meta(
        help="typed mode: lru: each address is an action (continue the previous request, a new page at a stride, "
             "or reuse the page at an LRU stack distance) decoded through an LRU stack of first pages; lru-pages: "
             "the stack holds every page a request spans; none: the LBA as one scaled number (README: locality)"))
    reuse_buckets: int = field(default=8, metadata=cli_meta(
        help="locality=lru: buckets of the address head, this many for the strides of new pages and as many for "
             "the stack distances of reuses (quantiles of the training trace's)"))
    carry_state: bool = field(default=True, metadata=cli_meta(
        help="sampling: carry G's LSTM state from window to window, so a trace is one stream; off = independent "
             "seq_len windows laid end to end (the reference recipe)"))
    join_windows: int = field(default=0, metadata=cli_meta(
        help="training: G's fakes continue its LSTM state over this many consecutive windows (truncated "
             "back-propagation, state detached between windows), so windows join; 0 = through the whole epoch, so "
             "G learns from the states a long sampled stream reaches (a stream stays one stream); 1 = fresh state "
             "each window"))
    burn_in: int = field(default=1024, metadata=cli_meta(
        help="carry_state sampling: each stream first runs this many rows and drops them (its LRU stack keeps "
             "their pages; its clock starts at the first row kept), so its first rows come from a running LSTM "
             "state, not the zero state, from which MSR web0's first ~400 rows were 10-100x sparser "
             "(docs/QUALITY.md); 0 = none, as models saved before"))
    seq_len: int = field(default=12, metadata=cli_meta(help="rows per training sequence"))
    stride: int = field(default=0, metadata=cli_meta(help="window step in rows; 0 = seq_len (non-overlapping, as the reference recipe)"))
    latent_dim: int = field(default=16, metadata=cli_meta(help="noise dimension per time step"))
    hidden_dim: int = field(default=66, metadata=cli_meta(help="LSTM hidden size of G and D"))
    num_layers: int = field(default=1, metadata=cli_meta(help="stacked LSTM layers in G and D"))
    batch_size: int = field(default=128, metadata=cli_meta(help="sequences per batch"))
    num_epochs: int = field(default=50, metadata=cli_meta(help="passes over the training sequences"))
    lr_g: float = field(default=5e-4, metadata=cli_meta("--lrG", help="generator Adam learning rate"))
    lr_d: float = field(default=5e-4, metadata=cli_meta("--lrD", help="discriminator Adam learning rate"))
    beta1: float = field(default=0.5, metadata=cli_meta(help="Adam beta1 (both networks)"))
    beta2: float = field(default=0.999, metadata=cli_meta(help="Adam beta2 (both networks)"))
    d_updates: int = field(default=1, metadata=cli_meta(help="discriminator steps per batch"))
    g_updates: int = field(default=1, metadata=cli_meta(help="generator steps per batch"))
    loss: str = field(default="bce", metadata=cli_meta(
        help="bce: BCE with logits (the reference recipe); wgan-gp: Wasserstein loss with gradient penalty"))
    gp_weight: float = field(default=10.0, metadata=cli_meta(help="wgan-gp: gradient penalty coefficient"))
    moment_weight: float = field(default=MOMENT_WEIGHT, metadata=cli_meta(
        help="weight of G's moment-matching term: per feature, |mean and std of the fake batch - the real "
             "batch's|, summed (for a one-hot head: its category frequencies; TableGAN's information loss on "
             "G's outputs; KL from the real category frequencies for a one-hot head). It keeps a head such as the "
             "opcode from sticking on one category, at a cost in timing (docs/QUALITY.md); 0 = off"))
    window_weight: float = field(default=0.0, metadata=cli_meta(
        help="weight of G's window-shape term: per continuous feature, |the share of its variance within a "
             "window - the training windows' share| + |its lag-1 correlation within a window - theirs| + |the "
             "correlation of a carried fake stream's window means 1, 8 and 32 windows apart - theirs|, averaged "
             "(how rows follow rows in and across windows, which D, scoring one window at a time, leaves to the "
             "seed). Lower detection accuracy, less burstiness (docs/QUALITY.md); 0 = off"))
    ema: float = field(default=0.0, metadata=cli_meta(
        help="sample, validate and save an exponential moving average of G's weights with this decay per G step "
             "(e.g. 0.99); 0 = the trained weights"))
    keep_best: bool = field(default=True, metadata=cli_meta(
        help="keep and register the generator of the validated epoch with the lowest val_fields (the mean "
             "distance of the fields' distributions: README) + the select_detection and select_burst terms, not "
             "the last one"))
    calibrate: bool = field(default=True, metadata=cli_meta(
        help="typed mode: after training, match the generator's marginals to the training part's (per-category "
             "logit biases for sizes, opcode and address actions; a rank-preserving map for inter-arrival time and "
             "latency), keeping which rows the generator makes long, slow or reused (README: calibration)"))
    address_first: bool = field(default=True, metadata=cli_meta(
        help="locality models: G draws each row's address action first and shifts its other outputs (sizes, "
             "opcode, timing) by a learned vector per action, so a reuse comes with a reuse's size; false = the "
             "heads drawn independently given G's state (the default before; docs/QUALITY.md)"))
    slow_noise: int = field(default=2, metadata=cli_meta(
        help="carry_state models: this many of G's latent inputs (0-3) vary slowly, AR(1) processes with time "
             "constants of 16, 256 and 4096 rows (the first this many) carried from window to window, so G can "
             "hold a regime (a busy or an idle spell) longer than its LSTM does; 0 = all inputs fresh every row"))
    noise_skip: bool = field(default=True, metadata=cli_meta(
        help="typed mode: each row's latent noise also goes straight to its latency (and uncommon-size) outputs, "
             "not only through G's slowly moving LSTM state; inter-arrival times keep theirs from the state, whose "
             "arrangement is the trace's burstiness (docs/QUALITY.md)"))
    sticky_heads: bool = field(default=True, metadata=cli_meta(
        help="typed carry_state models: a row keeps the previous row's noise for a softmax head (size, opcode, "
             "address action) with a probability fitted per head on the training rows, so categories come in runs "
             "as the trace's do (on MSR web0 90% of requests have their predecessor's opcode); the mix is unchanged"))
    levels: bool = field(default=False, metadata=cli_meta(
        help="typed carry_state models with calibrate: after training, fit slow levels of the inter-arrival "
             "time and latency (AR(1) processes over 64 and 512 rows mixed into each value's rank by a "
             "Gaussian copula, weighted so the within-window share of variance, the spread of 1,024-row block "
             "means and the correlation of window means 1, 8, 32 and 128 windows apart come nearest the training "
             "rows'), applied by each stream after the network; the marginals stay the training ones (README: "
             "slow levels)"))
    phases: bool = field(default=False, metadata=cli_meta(
        help="typed carry_state models with an opcode and calibrate: after training, give the opcode head's noise a "
             "slow AR(1) share (its time scale, share and the sticky keep fitted on the calibrated generator's rollout "
             "so the repeat rate and the read fraction's spread over 12-, 256- and 1,024-row windows come nearest the "
             "training rows'), so reads and writes come in phases as a trace's do; each row's read probability stays "
             "G's, so a long output's mix is unchanged, a short one's varies as a real stretch's does (README: "
             "read/write phases)"))
    calibrate_address: bool = field(default=True, metadata=cli_meta(
        help="with calibrate: the address head's actions too (the request reuse rate then matches the training "
             "part's); false: the head keeps the network's own mix, which on MSR web0 gave miss-ratio curves "
             "1.2-15x closer and a request reuse rate 0.06-0.33 too low (docs/QUALITY.md)"))
    calibrate_by_action: bool = field(default=True, metadata=cli_meta(
        help="with calibrate, address-first models (whether or not calibrate_address): the size head is calibrated per address "
             "action class (sequential, new, reuse) to the training rows' sizes in that class, so a reuse comes with a "
             "reuse's size; false: to the overall mix only, the default before (docs/QUALITY.md)"))
    select_calibrated: bool = field(default=True, metadata=cli_meta(
        help="with calibrate and keep_best: each validated epoch is scored as it will be saved, calibrated, so the "
             "epoch kept is the best calibrated model (one calibration per validated epoch: ~1.3 s on MSR web0, "
             "2 cores); false: scored before calibration, the default before (docs/QUALITY.md)"))
    select_detection: float = field(default=SELECT_DETECTION, metadata=cli_meta(
        help="with keep_best: the epoch kept minimises val_fields + this x val_detection_12 (|accuracy - 0.5| of a "
             "classifier telling the validation rows' 12-row windows from the epoch's rollout's: how rows follow "
             "rows, which val_fields does not see; ~1 s an epoch on MSR web0) + select_burst x val_burst; "
             "0 = val_fields alone (docs/QUALITY.md)"))
    select_burst: float = field(default=SELECT_BURST, metadata=cli_meta(
        help="with keep_best: the weight of val_burst (the scorecard's burstiness error, mean |log10| ratio of "
             "the index of dispersion at 10 and 100 mean gaps, against the validation rows) in the epoch's "
             "score; 0 = off"))
    val_fraction: float = field(default=0.2, metadata=cli_meta(
        help="last fraction of the trace (in time) held out; 0 trains on all rows as the reference recipe"))
    seed: int = field(default=42, metadata=cli_meta(help="seeds data order, noise and initial weights"))

    @property
    def select_weights(self) -> tuple[float, float]:
        """keep_best's weights of ``(val_detection_12, val_burst)`` beside val_fields ((0, 0) without keep_best)."""
        return (self.select_detection, self.select_burst) if self.keep_best else (0.0, 0.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "feature_mode", FEATURE_MODE_ALIASES.get(self.feature_mode, self.feature_mode))
        if self.feature_mode not in FEATURE_MODES:
            raise ConfigError(f"feature_mode must be one of {', '.join(FEATURE_MODES)}, but got {self.feature_mode!r}")
        if isinstance(self.log1p, str):  # accept "length,latency" from CLI and MLproject
            object.__setattr__(self, "log1p", tuple(c for c in self.log1p.split(",") if c.strip()))
        object.__setattr__(self, "log1p", tuple(c.strip() for c in self.log1p))
        for col in self.log1p:
            if col not in TRACE_COLUMNS:
                raise ConfigError(f"log1p columns must be among {', '.join(TRACE_COLUMNS)}, but got {col!r}")
        if self.continuous not in CONTINUOUS_ENCODINGS:
            raise ConfigError(f"continuous must be one of {', '.join(CONTINUOUS_ENCODINGS)}, but got {self.continuous!r}")
        if self.locality not in LOCALITY:
            raise ConfigError(f"locality must be one of {', '.join(LOCALITY)}, but got {self.locality!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, but got {self.loss!r}")
        if not 0.5 <= self.size_coverage <= 1:
            raise ConfigError(f"size_coverage must be in [0.5, 1], but got size_coverage={self.size_coverage!r}")
        if not 0 <= self.ema < 1:
            raise ConfigError(f"ema must be in [0, 1), but got ema={self.ema!r}")
        for name in ("window_weight", "select_detection", "select_burst"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, but got {name}={getattr(self, name)!r}")
        if not self.moment_weight >= 0:
            raise ConfigError(f"moment_weight must be >= 0, but got moment_weight={self.moment_weight!r}")
        if not self.gp_weight >= 0:
            raise ConfigError(f"gp_weight must be >= 0, but got gp_weight={self.gp_weight!r}")
        if self.log1p and self.feature_mode == "absolute":
            raise ConfigError(f"log1p={','.join(self.log1p)} needs feature_mode='delta' (absolute mode is the reference "
                              "recipe's exact scaling)")
        for name in ("seq_len", "latent_dim", "hidden_dim", "num_layers", "batch_size", "num_epochs",
                     "d_updates", "g_updates", "reuse_buckets"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, but got {name}={value!r}")
        if not isinstance(self.join_windows, int) or isinstance(self.join_windows, bool) or self.join_windows < 0:
            raise ConfigError(f"join_windows must be an integer >= 0 (0 = the whole epoch), but got "
                              f"join_windows={self.join_windows!r}")
        if not isinstance(self.burn_in, int) or isinstance(self.burn_in, bool) or self.burn_in < 0:
            raise ConfigError(f"burn_in must be an integer >= 0 (rows), but got burn_in={self.burn_in!r}")
        if not isinstance(self.slow_noise, int) or isinstance(self.slow_noise, bool) or \
                not 0 <= self.slow_noise <= len(SLOW_TAUS):
            raise ConfigError(f"slow_noise must be an integer from 0 to {len(SLOW_TAUS)}, but got "
                              f"slow_noise={self.slow_noise!r}")
        if self.seq_len < 2:
            raise ConfigError(f"seq_len must be at least 2, but got seq_len={self.seq_len}")
        if self.stride < 0:
            raise ConfigError(f"stride must be >= 0 (0 = seq_len), but got stride={self.stride}")
        for name in ("lr_g", "lr_d"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"{name} must be > 0, but got {name}={value!r}")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            if not 0 <= value < 1:
                raise ConfigError(f"{name} must be in [0, 1), but got {name}={value!r}")
        if not 0 <= self.val_fraction < 1:
            raise ConfigError(f"val_fraction must be in [0, 1), but got val_fraction={self.val_fraction!r}")

    @property
    def slow_inputs(self) -> int:
        """How many of G's latent inputs are slow (``slow_noise``): a carried-state model's only, and
        at most ``latent_dim - 1`` (one input stays fresh every row)."""
        return min(self.slow_noise, self.latent_dim - 1) if self.carry_state else 0

    @property
    def window_stride(self) -> int:
        """The effective step between training windows."""
        return self.stride or self.seq_len

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples become lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceGANConfig:
        """Inverse of ``to_dict``; unknown keys are an error (they mean a version mismatch)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(f"unknown TraceGANConfig keys: {', '.join(unknown)}")
        data = {**{k: v for k, v in _LEGACY_DEFAULTS.items() if k not in data}, **data}
        return cls(**{k: tuple(v) if k == "log1p" else v for k, v in data.items()})


@dataclass(frozen=True)
class DataConfig:
    """Where training rows come from. ``trace_path=None`` means the bundled sample trace."""

    trace_path: str | None = field(default=None, metadata=cli_meta(help="input trace; empty = the bundled sample"))
    trace_format: str = field(default="text6", metadata=cli_meta(help="reader to use (README: formats)"))
    max_lines: int = field(default=0, metadata=cli_meta(help="read at most this many lines; 0 = all"))
    columns: str = field(default="", metadata=cli_meta(
        help="csv, text and parquet formats: column map by header name (timestamp=Time,length=Size,lba=Offset,"
             "latency=RT,opcode=Op) or 1-based position (timestamp=1,length=4,lba=3)"))
    sort_by_time: bool = field(default=False, metadata=cli_meta(
        help="sort rows by timestamp instead of refusing a trace that goes back in time"))
    volume: str = field(default="", metadata=cli_meta(
        help="multi-volume formats (spc, alibaba, tencent, systor, disksim, mqsim, blkparse): volume ids to keep, "
             "comma-separated (semicolons if ids hold commas), or all; msr: Hostname_DiskNumber, e.g. web_0"))
    time_unit: str = field(default="", metadata=cli_meta(
        help="unit of the file's timestamps and latency where the format does not say (text6, text4, csv, text, "
             "parquet): ns, 100ns, us, ms or s; converted to ns. Empty: kept as read"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "trace_format", READ_FORMAT_ALIASES.get(self.trace_format, self.trace_format))
        if self.trace_path == "":
            object.__setattr__(self, "trace_path", None)
        if self.max_lines < 0:
            raise ConfigError(f"max_lines must be >= 0 (0 = all), but got max_lines={self.max_lines}")
        from training.units import TIME_UNITS

        if self.time_unit and self.time_unit not in TIME_UNITS:
            raise ConfigError(f"time_unit must be one of {', '.join(TIME_UNITS)} (or empty), but got {self.time_unit!r}")


@dataclass(frozen=True)
class RunOptions:
    """How a training job runs and is recorded; none of it changes the trained weights."""

    device: str = field(default="auto", metadata=cli_meta(help="auto, cpu, cuda[:N] or mps"))
    experiment: str = field(default="trace-gan", metadata=cli_meta(help="MLflow experiment (ignored under `mlflow run`)"))
    run_name: str = field(default="", metadata=cli_meta(help="MLflow run name"))
    register_as: str = field(default="", metadata=cli_meta(help="register the model under this name (empty: do not register)"))
    alias: str = field(default="auto", metadata=cli_meta(
        help="alias of the new version; auto: champion if none yet, else challenger; empty: none"))
    checkpoint_every: int = field(default=10, metadata=cli_meta(help="checkpoint every N epochs (the last is always kept); 0 = last only"))
    save_dir: str = field(default="checkpoints", metadata=cli_meta(help="local folder for checkpoints and the saved model"))
    save_prefix: str = field(default="trace_gan", metadata=cli_meta(help="prefix of the run's local folder"))
    eval_every: int = field(default=1, metadata=cli_meta(
        help="compute val_mmd2 and val_fields every N epochs (and after the last; keep_best chooses among these); "
             "0 = last only"))
    eval_sample: int = field(default=5000, metadata=cli_meta(help="validation rows (pinned subsample) per val_mmd2"))
    bandwidth: str = field(default="1.0", metadata=cli_meta(help="RBF bandwidth for MMD²: a number, a comma list, median or multi"))
    plots: bool = field(default=True, metadata=cli_meta(help="log PNG plots (losses, CDFs, autocorrelation)"))
    system_metrics: bool = field(default=True, metadata=cli_meta(
        help="log CPU, memory, disk and GPU use while the run is open (MLflow system metrics, psutil)"))
    stop_on_collapse: bool = field(default=False, metadata=cli_meta(
        help="end training early when the losses show a collapse (D or G wins, see docs)"))

    def __post_init__(self) -> None:
        for name in ("checkpoint_every", "eval_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, but got {name}={getattr(self, name)}")
        if self.eval_sample < 2:
            raise ConfigError(f"eval_sample must be >= 2, but got eval_sample={self.eval_sample}")
        if self.bandwidth.strip().lower() != "median":  # checked now, not after the first epoch
            from training.mmd import resolve_bandwidths

            resolve_bandwidths(self.bandwidth, None, None)
