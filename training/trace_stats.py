"""Statistics of one block trace, or of two, that the storage scorecard is made of (NumPy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["ks", "w1", "seeks", "gaps", "size_tv", "index_of_dispersion", "verbatim_fraction", "footprint_growth",
           "top_sizes", "first_touches", "repeat_rate", "window_spread", "burst_widths", "burst_error", "COPY_RUN",
           "BURST_SCALES", "PHASE_WINDOW"]

COPY_RUN = 8
BURST_SCALES = (10, 100, 1000)  # bin widths in mean inter-arrival times of the real trace
PHASE_WINDOW = 256  # requests: the windows whose read fractions make a trace's R/W phases
MIN_BINS = 20  # a scale is scored only where each half of the real trace spans this many bins


def top_sizes(length: np.ndarray, k: int = 10, *, digits: int = 6) -> list[list[float]]:
    """The ``k`` most common request sizes as ``[size, share of requests]``, most common first."""
    sizes, counts = np.unique(np.round(length), return_counts=True)
    order = np.argsort(-counts, kind="stable")[:k]
    return [[float(sizes[i]), round(float(counts[i] / counts.sum()), digits)] for i in order]


def repeat_rate(x: np.ndarray) -> float:
    """The fraction of rows equal to the row before them (runs of a size or an opcode)."""
    return float(np.mean(x[1:] == x[:-1])) if len(x) > 1 else 0.0


def window_spread(x: np.ndarray, width: int = PHASE_WINDOW) -> float | None:
    """The standard deviation of ``x``'s means over consecutive ``width``-row windows (how much a
    trace's read fraction moves between phases); None with fewer than two whole windows."""
    n = len(x) // width
    return float(np.asarray(x[:n * width], np.float64).reshape(n, width).mean(1).std()) if n > 1 else None


def first_touches(pages: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(is_first, first_index, counts)``: whether each access is its page's first, the index of
    each distinct page's first access, and each distinct page's access count."""
    _, first_idx, counts = np.unique(pages, return_index=True, return_counts=True)
    is_first = np.zeros(len(pages), bool)
    is_first[first_idx] = True
    return is_first, first_idx, counts


def footprint_growth(pages: np.ndarray, first_idx: np.ndarray, n_req: int, req_start: np.ndarray) -> np.ndarray:
    """Distinct pages per request after each tenth of the requests."""
    new = np.zeros(len(pages), np.int64)
    new[first_idx] = 1
    distinct = np.cumsum(new)
    marks = np.maximum(1, (np.arange(1, 11) * n_req) // 10)
    last_access = np.r_[req_start[1:], len(pages)][marks - 1] - 1
    return distinct[last_access] / marks


def ks(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import ks_2samp

    # only the statistic is used: the asymptotic p-value spares the exact one, which warns on ties
    return float(ks_2samp(a, b, method="asymp").statistic) if len(a) and len(b) else float("nan")


def w1(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Wasserstein-1 distance of two samples: the area between their empirical CDFs."""
    if not len(a) or not len(b):
        return float("nan")
    a, b = np.sort(a), np.sort(b)
    both = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(a, both[:-1], "right") / len(a)
    fb = np.searchsorted(b, both[:-1], "right") / len(b)
    return float(np.sum(np.abs(fa - fb) * np.diff(both)))


def seeks(t) -> np.ndarray:
    d = t.lba[1:] - (t.lba[:-1] + t.length[:-1] / 512)
    return np.sign(d) * np.log2(1 + np.abs(d))


def gaps(t) -> np.ndarray:
    return np.log10(1 + np.maximum(np.diff(t.timestamp), 0))


def size_tv(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Total variation over exact sizes, and the fraction of ``b``'s requests with a size ``a`` has."""
    sa, ca = np.unique(np.round(a), return_counts=True)
    sb, cb = np.unique(np.round(b), return_counts=True)
    allv = np.union1d(sa, sb)
    pa = np.zeros(len(allv))
    pb = np.zeros(len(allv))
    pa[np.searchsorted(allv, sa)] = ca / ca.sum()
    pb[np.searchsorted(allv, sb)] = cb / cb.sum()
    return float(0.5 * np.abs(pa - pb).sum()), float(cb[np.isin(sb, sa)].sum() / cb.sum())


def index_of_dispersion(timestamp: np.ndarray, width: float) -> float:
    """Index of dispersion (variance / mean) of request counts per time bin of ``width``."""
    if width <= 0 or len(timestamp) < 2:
        return float("nan")
    idx = (np.asarray(timestamp, np.float64) // width).astype(np.int64)
    bins = int(idx.max())  # bins 0 .. max - 1: the last bin is partial
    if bins < 2:
        return float("nan")
    # counts of the occupied bins only: memory O(rows) however long the span (a wild rollout's gaps)
    counts = np.unique(idx[idx < bins], return_counts=True)[1].astype(np.float64)
    mean = counts.sum() / bins
    return float((counts @ counts / bins - mean * mean) / mean) if mean > 0 else float("nan")


def burst_widths(real_timestamp: np.ndarray) -> dict[int, float]:
    """``{scale: bin width}``: ``BURST_SCALES`` mean gaps of the real trace, those it has ``MIN_BINS``
    bins of in each half (at least the shortest)."""
    n = len(real_timestamp)
    gap = float(np.mean(np.diff(real_timestamp))) if n > 1 else 0.0
    return {s: gap * s for s in BURST_SCALES if n >= 2 * MIN_BINS * s} or {BURST_SCALES[0]: gap * BURST_SCALES[0]}


def burst_error(real_timestamp: np.ndarray, synthetic_timestamp: np.ndarray,
                widths: dict[int, float] | None = None) -> tuple[dict[int, tuple[float, float]], float]:
    """Burstiness: ``({scale: (real, synthetic) index of dispersion}, mean |log10 ratio| over the
    scales)`` at ``widths`` (default ``burst_widths`` of the real trace); NaN where none is finite."""
    widths = burst_widths(real_timestamp) if widths is None else widths
    per, logs = {}, []
    for scale, width in widths.items():
        ia, ib = index_of_dispersion(real_timestamp, width), index_of_dispersion(synthetic_timestamp, width)
        per[scale] = (ia, ib)
        if np.isfinite(ia) and np.isfinite(ib):
            logs.append(abs(np.log10(max(ib, 1e-9) / max(ia, 1e-9))))
    return per, float(np.mean(logs)) if logs else float("nan")


def _row_hashes(t) -> np.ndarray:
    lba = np.round(t.lba).astype(np.int64).view(np.uint64)
    size = np.round(t.length).astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        return (lba * np.uint64(0x9E3779B97F4A7C15)) ^ (size * np.uint64(0xC2B2AE3D27D4EB4F) + np.uint64(0x165667B1))


def _run_hashes(t, k: int = COPY_RUN) -> np.ndarray:
    h = _row_hashes(t)
    if len(h) < k:
        return np.zeros(0, np.uint64)
    out = np.zeros(len(h) - k + 1, np.uint64)
    with np.errstate(over="ignore"):
        for i in range(k):
            out = out * np.uint64(1_000_003) + h[i:len(h) - k + 1 + i]
    return out


def verbatim_fraction(synthetic, reference, k: int = COPY_RUN) -> float:
    """Fraction of ``synthetic``'s requests inside a run of ``k`` consecutive (LBA, size) pairs that
    also occurs, in the same order, in ``reference``: a model that replays its data scores high."""
    hs, hr = _run_hashes(synthetic, k), _run_hashes(reference, k)
    if not len(hs):
        return 0.0
    starts = np.isin(hs, hr).astype(np.int64)
    covered = np.convolve(starts, np.ones(k, np.int64))[: len(synthetic)] > 0
    return float(covered.mean())
