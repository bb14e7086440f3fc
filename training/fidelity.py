"""Fidelity of a synthetic trace beyond MMD², each figure beside its two references.

A low row-wise MMD² does not mean a trace behaves like the real one in a cache: resampling each
column independently scores near zero yet has no sequence structure at all. So ``evaluate``
reports, for the synthetic trace and for two references computed the same way on the same data:

* ``*_floor``: real vs real — two disjoint halves of the real trace, made of alternating
  1,000-row blocks so that both cover the whole period: the floor measures sampling noise and
  local variation, not the trace's drift over time (held-out validation in time order is what
  measures that). A model near the floor is as good as this trace lets one tell.
* ``*_marginals``: the independent-marginals baseline — every column of the real trace resampled
  independently (pinned seed). A model that does not beat it on sequence metrics learned nothing
  about sequences.

Representation (documented because it decides every number): each trace's rows are taken as
``[timestamp - min(timestamp), length, LBA, latency]`` and mapped to [0, 1] with the *real*
trace's per-column min and max (the synthetic trace is never rescaled by its own range).
MMD², KS and W1 use ``sample`` (10,000) rows per side drawn with a pinned seed (``exact=True``:
MMD² on all rows). Sequence metrics (inter-arrival times, ACF) use every row in order; detection
samples windows from all rows. Cache, locality, size and burstiness figures are the storage
scorecard's (``training.scorecard``).
"""

from __future__ import annotations

import numpy as np

from training.config import TRACE_COLUMNS
from training.mmd import mmd2_rff, mmd2_unbiased, resolve_bandwidths
from training.readers import TraceFrame
from training.trace_stats import burst_error

__all__ = ["evaluate", "eval_matrix", "eval_rows", "field_distance",
           "Scaling", "Validator", "real_halves", "split_halves", "acf", "detection_score",
           "marginals_baseline", "select_value", "ACF_LAGS", "DETECTION_WINDOWS", "MIN_DETECTION_WINDOWS"]

ACF_LAGS = (1, 2, 3, 4, 5)
FLOOR_BLOCK = 1_000
BURST_WORST = 3.0  # val_burst of a rollout without burstiness to score: dispersion 1,000x off
DETECTION_WINDOWS = ((12, 1000), (256, 400))  # (rows per window, most windows per side): the scorecard's classifiers
# Fewest windows a side a classifier is scored on: the classifier's leaves need 20 examples, so with
# fewer than 30 a side the 3-fold training sets cannot split once and its accuracy is a coin (≈ 0.5,
# which would read as "cannot tell").
MIN_DETECTION_WINDOWS = 30


def eval_matrix(frame: TraceFrame) -> np.ndarray:
    """``(n, 4)`` float64: timestamp relative to the trace's own minimum, length, LBA, latency."""
    x = frame.values()
    x[:, 0] -= x[:, 0].min()
    return x


def eval_rows(rows: np.ndarray) -> np.ndarray:
    """A synthesizer's rows in the same representation: the first four columns, time relative to
    its minimum, and latency 0 where the model has none (a trace's latency is modelled only when
    it varies; readers fill in 0 for a trace without one)."""
    x = np.nan_to_num(np.array(rows[:, :4], np.float64), nan=0.0)
    if len(x):
        x[:, 0] -= x[:, 0].min()
    return x


class Scaling:
    """Per-column [0, 1] map fitted on the real rows; applied unchanged to synthetic rows."""

    def __init__(self, real: np.ndarray) -> None:
        self.lo = real.min(0)
        span = real.max(0) - self.lo
        self.span = np.where(span > 0, span, 1.0)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return (x - self.lo) / self.span


def acf(x: np.ndarray, lags: tuple[int, ...] = ACF_LAGS) -> np.ndarray:
    """Autocorrelation per column at ``lags``: ``(len(lags), d)``; 0 for a constant column."""
    x = x - x.mean(0)
    var = (x * x).mean(0)
    out = np.zeros((len(lags), x.shape[1]))
    for i, lag in enumerate(lags):
        if lag < len(x):
            out[i] = np.where(var > 0, (x[:-lag] * x[lag:]).mean(0) / np.where(var > 0, var, 1), 0.0)
    return out


def _windows(x: np.ndarray, seq_len: int, limit: int, rng: np.random.Generator, summary: bool) -> np.ndarray:
    m = len(x) // seq_len
    w = x[: m * seq_len].reshape(m, seq_len, x.shape[1]).copy()
    w[:, :, 0] -= w[:, :1, 0]  # time relative to the window's first request
    if m > limit:
        w = w[rng.choice(m, limit, replace=False)]
    return _summarise(w) if summary else w.reshape(len(w), -1)


def _summarise(w: np.ndarray) -> np.ndarray:
    """Per window and column: mean, sd, 10/50/90th percentiles, lag-1 autocorrelation of the
    increments; and the share of distinct values of column 2 (LBA: reuse inside the window)."""
    d = np.diff(w, axis=1)
    dc = d - d.mean(1, keepdims=True)
    lag1 = (dc[:, 1:] * dc[:, :-1]).mean(1) / np.maximum((dc * dc).mean(1), 1e-12)
    q = np.percentile(w, [10, 50, 90], axis=1).transpose(1, 0, 2).reshape(len(w), -1)
    distinct = np.array([len(np.unique(row)) for row in w[:, :, 2]]) / w.shape[1]
    return np.column_stack([w.mean(1), w.std(1), q, lag1, distinct])


def detection_score(real: np.ndarray, synth: np.ndarray, *, seq_len: int = 12, limit: int = 2000,
                    seed: int = 0, summary: bool = False, max_iter: int = 100) -> float:
    """Cross-validated accuracy of a classifier telling real from synthetic windows (0.5 = can't);
    NaN where either side has under ``MIN_DETECTION_WINDOWS`` windows.

    ``summary`` describes each window by per-column statistics instead of its raw rows (for long
    windows, where raw rows give the classifier thousands of features and few examples).
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import cross_val_score

    rng = np.random.default_rng(seed)
    a, b = _windows(real, seq_len, limit, rng, summary), _windows(synth, seq_len, limit, rng, summary)
    k = min(len(a), len(b))
    if k < MIN_DETECTION_WINDOWS:
        return float("nan")
    x = np.vstack([a[:k], b[:k]])
    y = np.r_[np.zeros(k), np.ones(k)]
    clf = HistGradientBoostingClassifier(max_iter=max_iter, random_state=seed)
    return float(cross_val_score(clf, x, y, cv=3).mean())


def marginals_baseline(real: np.ndarray, n: int, *, seed: int = 0) -> np.ndarray:
    """Each column resampled independently (with replacement) from the real rows."""
    rng = np.random.default_rng(seed)
    return np.column_stack([real[rng.integers(0, len(real), n), j] for j in range(real.shape[1])])


def split_halves(n: int, block: int = FLOOR_BLOCK) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices of two disjoint halves made of alternating ``block``-row blocks, and for each the
    positions (within the half) where a block from further on joins: ``[(idx, joins), (idx, joins)]``."""
    block = max(1, min(block, n // 4))
    ids = np.arange(n) // block
    out = []
    for parity in (0, 1):
        idx = np.flatnonzero(ids % 2 == parity)
        out.append((idx, np.flatnonzero(np.diff(ids[idx], prepend=parity)) if len(idx) else idx))
    return out


def rejoin_time(timestamps: np.ndarray, joins: np.ndarray, gap: float) -> np.ndarray:
    """Time of one half, starting at 0: its own inter-arrival times, and ``gap`` where a block joins."""
    gaps = np.diff(timestamps, prepend=timestamps[0] if len(timestamps) else 0)
    gaps[joins] = gap
    if len(gaps):
        gaps[0] = 0
    return np.cumsum(gaps)


def real_halves(x: np.ndarray, block: int = FLOOR_BLOCK) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of alternating ``block``-row blocks, each a trace of its own.

    Each half's timestamps are re-joined so that time runs on without the gaps the other half's
    blocks leave (inter-arrival times inside blocks are kept, the gap at a join is the median).
    """
    gap = float(np.median(np.diff(x[:, 0]))) if len(x) > 1 else 0.0
    halves = []
    for idx, joins in split_halves(len(x), block):
        part = x[idx].copy()
        part[:, 0] = rejoin_time(part[:, 0], joins, gap)
        halves.append(part)
    return halves[0], halves[1]


def _subsample(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    return x if len(x) <= k else x[rng.choice(len(x), k, replace=False)]


def _interarrival(x: np.ndarray) -> np.ndarray:
    return np.log10(1.0 + np.diff(np.sort(x[:, 0])))


def _metrics(real: np.ndarray, synth: np.ndarray, scale: Scaling, *, sigmas, sample: int, exact: bool,
             rff: bool, seed: int, sequence: bool, seq_len: int) -> dict[str, float]:
    from scipy.stats import ks_2samp, wasserstein_distance

    rng = np.random.default_rng(seed)
    rs, ss = scale(real), scale(synth)
    out: dict[str, float] = {}
    a, b = (rs, ss) if exact else (_subsample(rs, sample, rng), _subsample(ss, sample, rng))
    out["mmd2"] = mmd2_rff(a, b, sigmas, seed=seed) if rff else mmd2_unbiased(a, b, sigmas)
    for j, col in enumerate(TRACE_COLUMNS):
        out[f"ks_{col}"] = float(ks_2samp(a[:, j], b[:, j]).statistic)
        out[f"w1_{col}"] = float(wasserstein_distance(a[:, j], b[:, j]))
    ia_r, ia_s = _interarrival(real), _interarrival(synth)
    out["interarrival_ks"] = float(ks_2samp(ia_r, ia_s).statistic)
    out["interarrival_w1"] = float(wasserstein_distance(ia_r, ia_s))
    if sequence:
        err = np.abs(acf(rs) - acf(ss))
        out["acf_err"] = float(err.mean())
        for j, col in enumerate(TRACE_COLUMNS):
            out[f"acf_err_{col}"] = float(err[:, j].mean())
        out["detection"] = detection_score(rs, ss, seq_len=seq_len, seed=seed)
    return out


def evaluate(real: TraceFrame | np.ndarray, synthetic: TraceFrame | np.ndarray, *, sample: int = 10_000,
             exact: bool = False, bandwidth: str | float = 1.0, seed: int = 0, rff: bool = False,
             sequence: bool = True, references: bool = True, seq_len: int = 12) -> dict:
    """Every fidelity figure of ``synthetic`` against ``real``, with ``_floor`` and ``_marginals``.

    Returns a flat dict: ``mmd2``, ``mmd2_floor``, ``mmd2_marginals``, ``bandwidth`` (list of σ),
    ``n_real``, ``n_synthetic``, per-column ``ks_*`` / ``w1_*`` / ``acf_err_*``, ``acf_err``,
    ``interarrival_ks`` / ``interarrival_w1``, ``detection``, and the references.
    """
    real_x = eval_matrix(real) if isinstance(real, TraceFrame) else np.asarray(real, np.float64)
    synth_x = eval_matrix(synthetic) if isinstance(synthetic, TraceFrame) else np.asarray(synthetic, np.float64)
    scale = Scaling(real_x)
    sigmas = resolve_bandwidths(bandwidth, _subsample(scale(real_x), 2000, np.random.default_rng(seed)),
                                _subsample(scale(synth_x), 2000, np.random.default_rng(seed)))
    kw = dict(sigmas=sigmas, sample=sample, exact=exact, rff=rff, seed=seed, sequence=sequence, seq_len=seq_len)
    result: dict = {"n_real": len(real_x), "n_synthetic": len(synth_x), "bandwidth": list(sigmas),
                    "mmd_sample": "all" if exact else sample, "mmd_method": "rff" if rff else "exact",
                    "scaling": "real min/max -> [0,1]; timestamp relative to each trace's minimum"}
    result.update(_metrics(real_x, synth_x, scale, **kw))
    if references:
        first, second = real_halves(real_x)
        floor = _metrics(first, second, scale, **kw)
        marg = _metrics(real_x, marginals_baseline(real_x, len(real_x), seed=seed), scale, **kw)
        result.update({f"{k}_floor": v for k, v in floor.items()})
        result.update({f"{k}_marginals": v for k, v in marg.items()})
    return result


def _reuse_distance(lba: np.ndarray, length: np.ndarray) -> np.ndarray:
    from training.locality import stack_distances

    d = stack_distances(lba, length)
    return np.where(d >= 0, np.log2(np.maximum(d, 0) + 1.0), 64.0)  # a first touch: beyond any distance


def field_distance(real: TraceFrame, rows: np.ndarray) -> float:
    """``val_fields``: the mean distance between the real and synthetic marginals of each field a
    storage study reads — KS of inter-arrival times, total variation of the exact sizes, KS of LBA,
    KS of the reuse distance (log2 LRU stack distance of each request's first page among all pages
    touched, a first touch counted as infinite: the reuse rate and how far back), KS of latency and the read-fraction
    error (the last two when both traces have them). Each is in [0, 1] with 0 = identical. Unlike
    MMD² at one bandwidth on raw [0, 1]-scaled rows (where a heavy-tailed column is one spike near
    0), it sees the size mix, the opcode, the tails and the reuse."""
    from training.trace_stats import ks, size_tv

    t = real.timestamp.astype(np.float64)
    parts = [ks(np.diff(t), np.diff(rows[:, 0])), size_tv(real.length, rows[:, 1])[0], ks(real.lba, rows[:, 2]),
             ks(_reuse_distance(real.lba, real.length), _reuse_distance(rows[:, 2], rows[:, 1]))]
    if np.ptp(real.latency) > 0 and not np.isnan(rows[:, 3]).all():
        parts.append(ks(real.latency, rows[:, 3]))
    if (real.opcode >= 0).all() and rows.shape[1] > 4 and not np.isnan(rows[:, 4]).all():
        parts.append(abs(float((real.opcode == 0).mean()) - float((rows[:, 4] == 0).mean())))
    return float(np.mean(parts))


class Validator:
    """``val_mmd2`` (and ``val_fields``) of a model on held-out rows, comparable across epochs and trials.

    The validation rows and their subsample are pinned, the synthetic rows use pinned noise
    (as many rows as the validation part, then the same-size subsample), and the scaling is
    fitted on the validation rows: two models evaluated on the same validation part are scored
    on exactly the same data.
    """

    def __init__(self, validation: TraceFrame, *, sample: int = 5000, bandwidth: str | float = 1.0,
                 seed: int = 0) -> None:
        self.frame = validation
        self.real = eval_matrix(validation)
        self.scale = Scaling(self.real)
        self.seed = seed
        self.sample = sample
        rng = np.random.default_rng(seed)
        self.real_sample = self.scale(_subsample(self.real, sample, rng))
        self.sigmas = resolve_bandwidths(bandwidth, self.real_sample, self.real_sample)
        self._burst_scored = not np.isnan(burst_error(self.real[:, 0], self.real[:, 0])[1])

    def synthetic(self, synthesizer) -> np.ndarray:
        """As many synthetic rows as validation rows (all ``ROW_COLUMNS``), time relative to the first."""
        x = synthesizer.sample(len(self.real), seed=self.seed)
        x[:, 0] -= x[:, 0].min()
        return x

    def score_rows(self, rows: np.ndarray) -> float:
        """val_mmd2 of synthetic rows (as ``synthetic`` returns them)."""
        synth = self.scale(_subsample(eval_rows(rows), self.sample, np.random.default_rng(self.seed + 1)))
        return mmd2_unbiased(self.real_sample, synth, self.sigmas)

    def __call__(self, synthesizer) -> float:
        return self.score_rows(self.synthetic(synthesizer))

    def detection(self, rows: np.ndarray) -> float:
        """``val_detection_12``: the scorecard's ``detection_12`` error against the validation rows,
        |accuracy − 0.5| of a classifier telling their 12-row windows from ``rows``'."""
        a, b = self.scale(self.real), self.scale(eval_rows(rows))
        if (self.frame.opcode >= 0).all() and rows.shape[1] > 4 and not np.isnan(rows[:, 4]).any():
            a, b = np.column_stack([a, self.frame.opcode]), np.column_stack([b, rows[:, 4]])
        (window, limit), _ = DETECTION_WINDOWS
        return abs(detection_score(a, b, seq_len=window, limit=limit, seed=self.seed, max_iter=50) - 0.5)

    def scores(self, synthesizer, weights: tuple[float, float] = (0.0, 0.0)) -> dict[str, float]:
        """``{"val_mmd2": …, "val_fields": …}`` of one rollout. With ``weights`` (keep_best's,
        ``TraceGANConfig.select_weights``) also ``val_detection_12``, ``val_burst`` (the scorecard's
        burstiness error against the validation rows) and ``val_select`` = val_fields + w_d ×
        val_detection_12 + w_b × val_burst, the value keep_best minimises (``select_value``)."""
        rows = self.synthetic(synthesizer)
        out = {"val_mmd2": self.score_rows(rows), "val_fields": field_distance(self.frame, rows)}
        if any(weights):
            out["val_detection_12"] = float(np.nan_to_num(self.detection(rows)))  # NaN: too few windows a side
            burst = burst_error(self.real[:, 0], rows[:, 0])[1]
            # NaN where the validation rows have no scale to score (0: nothing to tell), or where the
            # rollout's time does not advance over two bins (a collapsed generator: the worst)
            out["val_burst"] = BURST_WORST if np.isnan(burst) and self._burst_scored else float(np.nan_to_num(burst))
            out["val_select"] = out["val_fields"] + weights[0] * out["val_detection_12"] + weights[1] * out["val_burst"]
        return out


def select_value(scores: dict[str, float]) -> float:
    """What keep_best minimises among an epoch's ``Validator.scores``: val_select where weighted, else val_fields."""
    return scores.get("val_select", scores["val_fields"])
