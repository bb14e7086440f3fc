"""Slow levels of the inter-arrival time and latency (``--levels``): a copula factor the stream applies.

A real trace's gaps (and latencies) are near-independent draws around a level that holds for
hundreds to thousands of requests; G, judged a window at a time, holds none beyond ~100
(docs/QUALITY.md). After the network, a stream replaces each such value ``x`` by

    x' = Q(Φ(Σ_k w_k s_k,t + sqrt(1 - Σ_k w_k²) Φ⁻¹(F(x)))),   s_k,t = a_k s_k,t-1 + sqrt(1 - a_k²) e_k,t

with ``a_k = 1 - 1/τ_k`` for the time scales ``SCALES`` (τ = 64 and 512 rows: together a
correlation that decays slowly, as the trace's does, which one scale cannot follow; a third at
4,096 rows left a 10,000-row stream at one level, docs/QUALITY.md), ``F`` and
``Q`` the training column's CDF and quantiles (``KNOTS`` of them), so the marginal stays the
training one; the row keeps G's rank with correlation sqrt(1 - Σ w²). The weights per column are
fitted once, at calibration, on G's own rollout: the grid point (``WEIGHTS`` per scale) whose
window statistics (``window_stats``: the share of variance within a ``seq_len``-row window, the
spread of 1,024-row block means, the correlation of window means ``LAGS`` windows apart, all on
normal scores) are nearest the training rows' in trace order; all weights 0 (G's own arrangement)
is on the grid. The factor's random numbers come from (seed, stream), drawn in row order, so the
rows do not depend on how a stream is cut into blocks, and torch and ONNX give the same ones.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit

from training.column_codecs import ERF_AS, knot_cdf

__all__ = ["LAGS", "SCALES", "WEIGHTS", "KNOTS", "COLUMNS", "ar1", "phi", "ndtri", "normal_scores", "window_stats",
           "fit_level", "fit", "trace_rows", "Levels"]

LAGS = (1, 8, 32, 128)  # windows apart: where the correlation of window means is matched
BLOCK = 1024  # rows: the stretches whose means' spread is matched
SCALES = (64, 512)  # rows: the time scales of a column's levels
WEIGHTS = (0.0, 0.15, 0.3, 0.45, 0.6, 0.75)  # each scale's weight tried
MAX_SHARE = 0.9  # at most this much of a value's variance from its levels (its own rank keeps the rest)
KNOTS = 513  # quantiles of a training column kept for F and Q
COLUMNS = {"interarrival": 0, "latency": 3}  # the columns a level applies to, and where they sit in a row
_CHUNK = 64


def ar1(e: np.ndarray, prev: float, a: float) -> np.ndarray:
    """``x_t = a x_{t-1} + sqrt(1 - a^2) e_t`` from ``x_{-1} = prev``, in NumPy: each 64-row chunk
    from 0 as one matrix product, then the chunks' starting values by one short scan (what
    ``scipy.signal.lfilter`` computes, to 1e-14, without its half-second import at start-up)."""
    n = len(e)
    m = -(-n // _CHUNK)
    x = np.zeros(m * _CHUNK)
    x[:n] = e * np.sqrt(1.0 - a * a)
    lag = np.arange(_CHUNK)[:, None] - np.arange(_CHUNK)[None, :]
    part = x.reshape(m, _CHUNK) @ np.where(lag >= 0, a ** np.maximum(lag, 0), 0.0).T
    start, last, decay = np.empty(m), prev, a ** _CHUNK
    for k in range(m):
        start[k] = last
        last = decay * last + part[k, -1]
    return (part + start[:, None] * a ** np.arange(1, _CHUNK + 1)).reshape(-1)[:n]


@njit(cache=True)
def _scan(e: np.ndarray, prev: float, a: float) -> np.ndarray:
    """``ar1`` one row after another: the same numbers however a stream's rows are cut into calls."""
    out = np.empty(len(e))
    c = np.sqrt(1.0 - a * a)
    for t in range(len(e)):
        prev = a * prev + c * e[t]
        out[t] = prev
    return out


def phi(x: np.ndarray) -> np.ndarray:
    """The standard normal CDF (erf to 1.5e-7 by Abramowitz & Stegun 7.1.26, as ``normal_cdf`` in
    ``training.column_codecs``; NumPy has no erf, and SciPy costs half a second to import)."""
    ax = np.abs(x) * (1.0 / math.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * ax)
    poly = t * (ERF_AS[0] + t * (ERF_AS[1] + t * (ERF_AS[2] + t * (ERF_AS[3] + t * ERF_AS[4]))))
    half = 0.5 * (1.0 - poly * np.exp(-ax * ax))  # erf(|x| / sqrt 2) / 2
    return np.where(x >= 0, 0.5 + half, 0.5 - half)


_A = (-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.3577518672690, -30.66479806614716,
      2.506628277459239)
_B = (-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572)
_C = (-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
      2.938163982698783)
_D = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)


def ndtri(p: np.ndarray) -> np.ndarray:
    """Φ⁻¹(p) for p in (0, 1) (Acklam's rational approximation, relative error 1.2e-9), vectorised."""
    p = np.clip(np.asarray(p, np.float64), 1e-12, 1.0 - 1e-12)
    q = np.minimum(p, 1.0 - p)
    out = np.empty_like(p)
    tail = q < 0.02425
    r = np.sqrt(-2.0 * np.log(q[tail]))
    x = (((((_C[0] * r + _C[1]) * r + _C[2]) * r + _C[3]) * r + _C[4]) * r + _C[5]) / \
        ((((_D[0] * r + _D[1]) * r + _D[2]) * r + _D[3]) * r + 1.0)
    out[tail] = np.where(p[tail] < 0.5, x, -x)
    c = p[~tail] - 0.5
    r = c * c
    out[~tail] = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * c / \
        (((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1.0)
    return out


def normal_scores(x: np.ndarray) -> np.ndarray:
    """Φ⁻¹ of each value's mid-rank, ``(rank - 1/2) / n`` (ties share the middle of their ranks)."""
    flat = np.asarray(x, np.float64).reshape(-1)
    _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
    mid = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based mid-rank of each distinct value
    return ndtri((mid[inverse] - 0.5) / len(flat)).reshape(np.shape(x))


def window_stats(z: np.ndarray, seq_len: int) -> np.ndarray:
    """For streams ``z`` (``(S, T)``): the share of variance within ``seq_len``-row windows, the share
    of variance between ``BLOCK``-row blocks (how far a stretch's level strays: the marginal of a
    short trace), then the correlation of window means ``LAGS`` windows apart (pooled over the
    streams; NaN where too short)."""
    s, t = z.shape
    w = z[:, :t // seq_len * seq_len].reshape(s, -1, seq_len)
    means = w.mean(2)
    total = w.var()
    out = [float(((w - means[..., None]) ** 2).mean() / total) if total > 0 else float("nan")]
    blocks = z[:, :t // BLOCK * BLOCK].reshape(s, -1, BLOCK).mean(2).reshape(-1)
    out.append(float(blocks.var() / total) if total > 0 and len(blocks) > 8 else float("nan"))
    for k in LAGS:
        if means.shape[1] <= k + 2:
            out.append(float("nan"))
            continue
        a, b = means[:, :-k].reshape(-1), means[:, k:].reshape(-1)
        sa, sb = a.std(), b.std()
        out.append(float(((a - a.mean()) * (b - b.mean())).mean() / (sa * sb)) if sa > 0 and sb > 0 else float("nan"))
    return np.array(out)


def trace_rows(windows: np.ndarray, stride: int) -> np.ndarray:
    """The rows of training windows cut every ``stride`` rows, in trace order, once each."""
    return np.asarray(windows)[:, :stride].reshape(-1, windows.shape[-1])


def _slow(shape: tuple[int, int], tau: float, rng: np.random.Generator) -> np.ndarray:
    """``shape[0]`` stationary AR(1) streams of ``shape[1]`` rows with time scale ``tau`` rows."""
    a = 1.0 - 1.0 / tau
    return np.stack([ar1(rng.standard_normal(shape[1]), rng.standard_normal(), a) for _ in range(shape[0])])


def fit_level(z: np.ndarray, target: np.ndarray, seq_len: int) -> tuple[tuple[float, ...], np.ndarray]:
    """``(weights, stats)``: the weights per ``SCALES`` entry (each from ``WEIGHTS``, squares summing
    to at most ``MAX_SHARE``; all 0 is G's own arrangement) whose levels bring the window
    statistics of G's normal scores ``z`` (``(S, T)`` streams) nearest ``target`` (L1 over the
    statistics both have), and the statistics they give; the levels' noise is drawn from a fixed seed."""
    import itertools

    ok = np.isfinite(target)
    rng = np.random.default_rng(0)
    slow = [_slow(z.shape, tau, rng) for tau in SCALES]
    best: tuple[float, tuple[float, ...], np.ndarray] | None = None
    for w in itertools.product(WEIGHTS, repeat=len(SCALES)):
        share = sum(x * x for x in w)
        if share > MAX_SHARE + 1e-9:
            continue
        mixed = math.sqrt(1.0 - share) * z
        for wk, s in zip(w, slow):
            if wk:
                mixed = mixed + wk * s
        stats = window_stats(mixed, seq_len)
        d = float(np.abs(stats - target)[ok & np.isfinite(stats)].sum())
        if best is None or d < best[0] - 1e-12:  # ties: the first, the smaller weights
            best = (d, w, stats)
    return best[1], best[2]


def fit(pre: np.ndarray, train: np.ndarray, names: tuple[str, ...], inverse, seq_len: int) -> dict[str, dict]:
    """Each ``COLUMNS`` column's levels: ``{name: {"weights", "taus", "knots", "stats"}}`` from G's
    rollout ``pre`` (``(S, T, features)`` streams, any monotone scale), the encoded training rows
    ``train`` in trace order, the continuous feature ``names`` and ``inverse(name, encoded)`` (to the
    column's units, for the knots). ``stats``: the window statistics of the training rows, of G's
    own and with the levels, for the run's record."""
    out = {}
    for name in COLUMNS:
        if name not in names:
            continue
        j = names.index(name)
        z, real = normal_scores(pre[..., j]), np.asarray(train[:, j], np.float64)
        target = window_stats(normal_scores(real)[None], seq_len)
        weights, after = fit_level(z, target, seq_len)
        knots = inverse(name, np.quantile(real, np.linspace(0.0, 1.0, KNOTS)))
        out[name] = {"weights": list(weights), "taus": list(SCALES), "knots": [float(k) for k in knots],
                     "stats": {"training": _rounded(target), "generator": _rounded(window_stats(z, seq_len)),
                               "with_levels": _rounded(after)}}
    return out


def _rounded(x: np.ndarray) -> list[float | None]:
    return [round(float(v), 4) if np.isfinite(v) else None for v in x]


class Levels:
    """One stream's levels: ``levels(rows)`` rewrites the fitted columns of ``rows`` (finished
    ``ROW_COLUMNS`` rows before timestamps, gaps in column 0) in place, continuing from the last call."""

    def __init__(self, params: dict[str, dict[str, Any]], seed: int, stream: int) -> None:
        self.rng = np.random.default_rng([seed, stream, 0, 5])
        self.cols = []
        for name, p in params.items():
            # only the time scales with weight: (weight, AR(1) coefficient) each
            scales = [(float(w), 1.0 - 1.0 / float(t)) for w, t in zip(p["weights"], p["taus"]) if w]
            if scales:
                knots = np.asarray(p["knots"], np.float64)
                self.cols.append((COLUMNS[name], scales, knot_cdf(knots), np.linspace(0.0, 1.0, len(knots)), knots))
        self.prev = [self.rng.standard_normal(len(c[1])) for c in self.cols]

    def __bool__(self) -> bool:
        return bool(self.cols)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        e = self.rng.standard_normal((len(rows), sum(len(c[1]) for c in self.cols)))
        at = 0
        for i, (j, scales, cdf, grid, knots) in enumerate(self.cols):
            z = math.sqrt(1.0 - sum(w * w for w, _ in scales)) * ndtri(np.interp(rows[:, j], *cdf))
            for k, (w, a) in enumerate(scales):
                s = _scan(np.ascontiguousarray(e[:, at + k]), float(self.prev[i][k]), a)
                if len(s):
                    self.prev[i][k] = s[-1]
                z += w * s
            at += len(scales)
            rows[:, j] = np.interp(phi(z), grid, knots)
        return rows
