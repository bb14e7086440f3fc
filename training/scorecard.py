"""The storage-fidelity scorecard: what cache and SSD studies measure, each beside its references.

A synthetic trace is compared with a real one on whole traces (equal length is the caller's
choice) in four groups — cache and locality, sizes and ops, timing, detection — plus row-wise
MMD² and a copy check. Every line has the same shape:

* ``real`` / ``synthetic``: the value on each trace, for metrics that are a property of one
  trace (reuse rate, read fraction, …); distances between two traces have none.
* ``error``: ``|synthetic - real|`` for those, the distance itself for the others.
* ``floor``: the same error between two halves of the real trace (alternating 1,000-row blocks,
  ``fidelity.split_halves``): what sampling noise alone gives. ``marginals``: the error of the
  independent-marginals baseline (inter-arrival times, sizes, LBAs, latencies and opcodes each
  resampled from the real trace on its own). A model within 2× of the floor is as good as this
  trace lets one tell; one that does not beat the marginals learned nothing about sequences.

Metric definitions are in ``METRICS`` and the README. Cache curves come from libCacheSim
(``training.cachesim``); the LRU stack-distance distribution is read off the LRU curve on the
power-of-two ladder (the hit ratio at C pages is the fraction of accesses with stack distance < C),
so no separate stack-distance pass is needed.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from training.cachesim import (
    MAX_ACCESSES,
    POLICIES,
    ladder,
    miss_ratio_curves,
    n_page_accesses,
    page_accesses,
    sampling_rate,
)
from training.fidelity import (
    DETECTION_WINDOWS,
    FLOOR_BLOCK,
    MIN_DETECTION_WINDOWS,
    Scaling,
    detection_score,
    rejoin_time,
    split_halves,
)
from training.mmd import mmd2_unbiased
from training.trace_stats import (
    BURST_SCALES,
    PHASE_WINDOW,
    burst_error,
    burst_widths,
    first_touches,
    footprint_growth,
    gaps,
    ks,
    repeat_rate,
    seeks,
    size_tv,
    top_sizes,
    verbatim_fraction,
    w1,
    window_spread,
)

__all__ = ["TraceData", "scorecard", "METRICS", "GROUPS", "MAX_ACCESSES", "headline_metrics", "format_scorecard",
           "composite_score", "objective_value", "OBJECTIVES"]

log = logging.getLogger("ganflow.scorecard")

GROUPS = ("locality", "sizes and ops", "timing", "detection", "rows")
# key -> (group, kind, label); kind "value": a property of one trace, "distance": between two
METRICS = {
    "hrc_mae": ("locality", "distance", "miss-ratio-curve MAE, mean of the policies (page model)"),
    **{f"hrc_mae_{p}": ("locality", "distance", f"miss-ratio-curve MAE, {p.upper()}") for p in POLICIES},
    "byte_mr_mae": ("locality", "distance", "byte-miss-ratio-curve MAE, mean of the policies (request model)"),
    "reuse_rate": ("locality", "value", "requests whose first page was touched before"),
    "stack_w1": ("locality", "distance", "W1 of log2 LRU stack distance (reuses)"),
    "stack_median_log2": ("locality", "value", "median log2 stack distance (ladder resolution)"),
    "stack_p90_log2": ("locality", "value", "90th percentile log2 stack distance (ladder resolution)"),
    "one_hit_wonders": ("locality", "value", "pages touched exactly once / distinct pages"),
    "footprint_growth_err": ("locality", "distance", "mean relative error of distinct pages per request at deciles"),
    "sequential_fraction": ("locality", "value", "requests that start where the previous ended"),
    "seek_w1": ("locality", "distance", "W1 of signed log2 seek distance (sectors)"),
    "read_fraction": ("sizes and ops", "value", "reads / requests"),
    "read_phase_sd": ("sizes and ops", "value", f"sd of the read fraction over {PHASE_WINDOW}-request windows (phases)"),
    "size_tv": ("sizes and ops", "distance", "total variation over exact request sizes"),
    "size_in_real": ("sizes and ops", "value", "requests whose size occurs in the real trace"),
    "aligned_4k": ("sizes and ops", "value", "requests whose size is a multiple of 4096"),
    "size_repeat": ("sizes and ops", "value", "requests with the previous request's size (runs)"),
    "op_repeat": ("sizes and ops", "value", "requests with the previous request's opcode (runs)"),
    "interarrival_ks": ("timing", "distance", "KS of inter-arrival times"),
    "latency_ks": ("timing", "distance", "KS of latency"),
    "burst_err": ("timing", "distance", "mean |log10| ratio of index of dispersion over the scales"),
    **{f"iod_{s}": ("timing", "value", f"index of dispersion of counts per {s}× mean gap") for s in (10, 100, 1000)},
    "detection_12": ("detection", "value", "classifier accuracy, 12-row windows (0.5 = can't tell)"),
    "detection_256": ("detection", "value", "classifier accuracy, 256-row windows"),
    "mmd2": ("rows", "distance", "unbiased RBF MMD², σ=1 on [0,1]-scaled rows"),
    "verbatim_8": ("rows", "value", "requests inside an 8-request run copied from the reference"),
}
HEADLINE = ("hrc_mae", "byte_mr_mae", "reuse_rate", "stack_w1", "size_tv", "read_fraction", "interarrival_ks",
            "latency_ks", "burst_err", "detection_12", "detection_256", "mmd2", "verbatim_8")


@dataclass
class TraceData:
    """One trace as the scorecard sees it; ``latency`` / ``opcode`` are None when the trace has none."""

    timestamp: np.ndarray
    length: np.ndarray
    lba: np.ndarray
    latency: np.ndarray | None = None
    opcode: np.ndarray | None = None

    @classmethod
    def from_frame(cls, frame) -> TraceData:
        op = frame.opcode if len(frame) and (frame.opcode >= 0).all() else None
        lat = frame.latency.astype(np.float64) if len(frame) and np.ptp(frame.latency) > 0 else None  # none: one value
        ts = frame.timestamp.astype(np.float64)
        return cls(ts - ts.min(), frame.length.astype(np.float64), frame.lba.astype(np.float64), lat, op)

    @classmethod
    def from_matrix(cls, x: np.ndarray, opcode: np.ndarray | None = None) -> TraceData:
        """From ``[timestamp, length, LBA, latency, opcode]`` rows (a synthesizer's output; an
        all-NaN or missing latency / opcode column means the model has none)."""
        x = np.asarray(x, np.float64)
        col = lambda j: x[:, j] if x.shape[1] > j and not np.isnan(x[:, j]).all() else None  # noqa: E731
        if opcode is None and col(4) is not None:
            opcode = x[:, 4].astype(np.int8)
        return cls(x[:, 0] - x[:, 0].min(), x[:, 1], x[:, 2], col(3), opcode)

    def __len__(self) -> int:
        return len(self.timestamp)

    def take(self, idx: np.ndarray) -> TraceData:
        pick = lambda a: None if a is None else a[idx]  # noqa: E731
        return TraceData(self.timestamp[idx], self.length[idx], self.lba[idx], pick(self.latency), pick(self.opcode))

    def matrix(self) -> np.ndarray:
        cols = [self.timestamp, self.length, self.lba] + [c for c in (self.latency, self.opcode) if c is not None]
        return np.column_stack(cols).astype(np.float64)


def halves(trace: TraceData, block: int = FLOOR_BLOCK) -> tuple[TraceData, TraceData]:
    """Two disjoint halves of alternating blocks; time re-joined with the median gap at each join."""
    gap = float(np.median(np.diff(trace.timestamp))) if len(trace) > 1 else 0.0
    out = []
    for idx, joins in split_halves(len(trace), block):
        part = trace.take(idx)
        part.timestamp = rejoin_time(part.timestamp, joins, gap)
        out.append(part)
    return out[0], out[1]


def marginals(trace: TraceData, *, seed: int = 0) -> TraceData:
    """Every field resampled independently from ``trace``; inter-arrival times summed back to time."""
    rng = np.random.default_rng(seed)
    n = len(trace)
    draw = lambda a: None if a is None else a[rng.integers(0, n, n)]  # noqa: E731
    gaps = np.diff(trace.timestamp) if n > 1 else np.zeros(1)
    ts = np.concatenate([[0.0], np.cumsum(gaps[rng.integers(0, len(gaps), n - 1)])])
    return TraceData(ts, draw(trace.length), draw(trace.lba), draw(trace.latency), draw(trace.opcode))


class _Profile:
    """Per-trace quantities that every comparison of that trace reuses; ``curves`` are filled by
    ``_simulate``."""

    def __init__(self, trace: TraceData) -> None:
        t = self.trace = trace
        self.pages, owner = page_accesses(t.lba, t.length)
        req_start = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]  # index of each request's first page
        self.first_page = self.pages[req_start]
        self.curves: dict[str, np.ndarray] = {}
        is_first, first_idx, counts = first_touches(self.pages)
        self.footprint = len(counts)
        self.growth = footprint_growth(self.pages, first_idx, len(t), req_start)
        end = t.lba + t.length / 512
        self.values = {"reuse_rate": float(1 - is_first[req_start].mean()),
                       "one_hit_wonders": float((counts == 1).mean()),
                       "sequential_fraction": float((np.abs(t.lba[1:] - end[:-1]) < 0.5).mean()) if len(t) > 1 else 0.0,
                       "aligned_4k": float((np.round(t.length) % 4096 == 0).mean()),
                       "size_repeat": repeat_rate(np.round(t.length))}
        if t.opcode is not None:
            self.values["read_fraction"] = float((t.opcode == 0).mean())
            self.values["op_repeat"] = repeat_rate(t.opcode)
            if (phases := window_spread(t.opcode == 0)) is not None:
                self.values["read_phase_sd"] = phases

    def stack_cdf(self) -> np.ndarray:
        """P(stack distance < size | reuse) at each ladder size, from the LRU page-model curve."""
        hits = 1 - self.curves["lru"]
        return hits / hits[-1] if hits[-1] > 0 else np.zeros_like(hits)


def _simulate(profiles: dict[str, _Profile], sizes: np.ndarray, rate: float) -> None:
    traces = {}
    for name, p in profiles.items():
        traces[f"{name}/page"] = (p.pages, np.full(len(p.pages), 4096))
        traces[f"{name}/request"] = (p.first_page, np.maximum(np.round(p.trace.length), 1))
    curves = miss_ratio_curves(traces, sizes, rate=rate)
    for name, p in profiles.items():
        p.curves = {k: v for k, v in curves[f"{name}/page"].items() if not k.endswith("_bytes")}
        p.curves.update({f"{k}_request": v for k, v in curves[f"{name}/request"].items()})


def _compare(a: _Profile, b: _Profile, *, sizes: np.ndarray, widths: dict[int, float], reference: TraceData,
             scale: Scaling, detection: bool, seed: int) -> dict[str, tuple]:
    """``key -> (value of a, value of b, error)``; values are None for distances."""
    ta, tb = a.trace, b.trace
    out: dict[str, tuple] = {}
    for key, va in a.values.items():  # a value the real trace has and the other lacks (opcode) fails its line
        vb = b.values.get(key)
        out[key] = (va, vb, float("nan") if vb is None else abs(vb - va))
    maes = {p: float(np.abs(a.curves[p] - b.curves[p]).mean()) for p in POLICIES}
    out.update({f"hrc_mae_{p}": (None, None, v) for p, v in maes.items()})
    out["hrc_mae"] = (None, None, float(np.mean(list(maes.values()))))
    out["byte_mr_mae"] = (None, None, float(np.mean([np.abs(a.curves[f"{p}_bytes_request"]
                                                            - b.curves[f"{p}_bytes_request"]).mean() for p in POLICIES])))
    ca, cb = a.stack_cdf(), b.stack_cdf()
    out["stack_w1"] = (None, None, float(np.abs(ca - cb).sum()))
    for q, key in ((0.5, "stack_median_log2"), (0.9, "stack_p90_log2")):
        qa, qb = (float(math.log2(sizes[np.argmax(c >= q)])) if (c >= q).any() else float("nan") for c in (ca, cb))
        out[key] = (qa, qb, abs(qb - qa))
    out["footprint_growth_err"] = (None, None, float(np.mean(np.abs(b.growth - a.growth) / np.maximum(a.growth, 1e-12))))
    out["seek_w1"] = (None, None, w1(seeks(ta), seeks(tb)))
    tv, inside = size_tv(ta.length, tb.length)
    out["size_tv"] = (None, None, tv)
    out["size_in_real"] = (1.0, inside, 1.0 - inside)
    out["interarrival_ks"] = (None, None, ks(gaps(ta), gaps(tb)))
    if ta.latency is not None and tb.latency is not None:
        out["latency_ks"] = (None, None, ks(ta.latency, tb.latency))
    per_scale, err = burst_error(ta.timestamp, tb.timestamp, widths)
    out.update({f"iod_{k}": (ia, ib, abs(ib - ia)) for k, (ia, ib) in per_scale.items()})
    out["burst_err"] = (None, None, err)
    out.update(_rows(ta, tb, scale=scale, detection=detection, seed=seed))
    share = verbatim_fraction(tb, reference)
    out["verbatim_8"] = (None, share, share)
    return out


def _rows(ta: TraceData, tb: TraceData, *, scale: Scaling, detection: bool, seed: int) -> dict[str, tuple]:
    """Row-wise MMD² and window detection on the columns both traces have, scaled by the real's range."""
    cols = 3 + (ta.latency is not None and tb.latency is not None)
    xa, xb = scale(ta.matrix()[:, :cols], cols), scale(tb.matrix()[:, :cols], cols)
    if ta.opcode is not None and tb.opcode is not None:
        xa, xb = np.column_stack([xa, ta.opcode]), np.column_stack([xb, tb.opcode])
    rng = np.random.default_rng(seed)
    sub = lambda x: x if len(x) <= 5000 else x[rng.choice(len(x), 5000, replace=False)]  # noqa: E731
    out = {"mmd2": (None, None, mmd2_unbiased(sub(xa[:, :cols]), sub(xb[:, :cols]), [1.0]))}
    if detection:
        for w, limit in DETECTION_WINDOWS:
            acc = detection_score(xa, xb, seq_len=w, limit=limit, seed=seed, summary=w > 32, max_iter=50)
            if np.isfinite(acc):  # NaN: too few windows to train a classifier on (see not_scored)
                out[f"detection_{w}"] = (None, acc, abs(acc - 0.5))
    return out


class _ColumnScale:
    """``Scaling`` of the real trace's columns, applied to the first ``cols`` columns."""

    def __init__(self, real: TraceData) -> None:
        self.scaling = Scaling(real.matrix()[:, :4])

    def __call__(self, x: np.ndarray, cols: int) -> np.ndarray:
        return (x - self.scaling.lo[:cols]) / self.scaling.span[:cols]


def scorecard(real: TraceData, synthetic: TraceData, *, reference: TraceData | None = None, seed: int = 0,
              detection: bool = True, max_accesses: int = MAX_ACCESSES) -> dict:
    """The full scorecard of ``synthetic`` against ``real`` (see the module docstring).

    The references (floor and marginals) depend only on ``real``: they are kept for the last few
    real traces in this process, so scoring several synthetic traces (tuning trials, comparisons)
    against one held-out trace computes them once.

    Args:
        real: the real trace to compare with (held-out data when scoring a model).
        synthetic: the synthetic trace, ideally as long as ``real``.
        reference: the trace verbatim copies are looked for in (a model's training data); default ``real``.
        seed: pins the marginals baseline, the subsamples and the classifiers.
        detection: train the window classifiers (the slowest part on small traces).
        max_accesses: page accesses per trace simulated exactly; longer traces are spatially
            sampled (SHARDS) at one rate for all five traces, recorded as ``cache.sampling_rate``.
    """
    synth = _Profile(synthetic)
    rate = sampling_rate(max(n_page_accesses(real.lba, real.length), len(synth.pages)), max_accesses)
    gap = float(np.mean(np.diff(real.timestamp))) if len(real) > 1 else 0.0
    kw = dict(widths=burst_widths(real.timestamp), scale=_ColumnScale(real), detection=detection, seed=seed)
    profiles, sizes, floor, base = _references(real, rate, kw)
    log.info("scorecard: libCacheSim, %d policies x %d cache sizes, synthetic trace (%s page accesses%s)",
             len(POLICIES), len(sizes), f"{len(synth.pages):,}", f", spatially sampled at {rate:.3g}" if rate < 1 else "")
    _simulate({"synthetic": synth}, sizes, rate)
    log.info("scorecard: distances%s", " and window classifiers" if detection else "")
    main = _compare(profiles["real"], synth, sizes=sizes, reference=reference or real, **kw)
    report = _assemble(main, floor, base, {**profiles, "synthetic": synth}, sizes, n=(len(real), len(synthetic)))
    report["cache"]["sampling_rate"] = rate
    short = min(len(real), len(synthetic))
    report["not_scored"] = {f"detection_{w}": f"under {MIN_DETECTION_WINDOWS} windows of {w} rows a side "
                            f"({MIN_DETECTION_WINDOWS * w:,} rows)" for w, _ in DETECTION_WINDOWS
                            if detection and short // w < MIN_DETECTION_WINDOWS}
    report["iops"] = _iops_curves(real, synthetic, gap * BURST_SCALES[1])
    return report


def _iops_curves(real: TraceData, synthetic: TraceData, width: float, points: int = 500) -> dict:
    """Requests per bin of ``width`` ticks over time for both traces, pooled to at most ``points`` bins."""
    out = {"bin_ticks": width}
    for name, t in (("real", real), ("synthetic", synthetic)):
        counts = np.bincount((t.timestamp // width).astype(np.int64)) if width > 0 and len(t) else np.zeros(1)
        pool = max(1, -(-len(counts) // points))
        pad = np.r_[counts, np.zeros((-len(counts)) % pool)]
        out[name] = (pad.reshape(-1, pool).mean(1)).tolist()
        out[f"{name}_pool"] = pool
    return out


_REFERENCES: OrderedDict = OrderedDict()  # the last few real traces' references, newest last
_KEEP_REFERENCES = 2


def _digest(t: TraceData) -> str:
    h = hashlib.sha1()
    for a in (t.timestamp, t.length, t.lba, t.latency, t.opcode):
        h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def _references(real: TraceData, rate: float, kw: dict) -> tuple[dict[str, _Profile], np.ndarray, dict, dict]:
    """Profiles (with curves) of the real trace, its halves and its marginals; the floor and the
    marginals comparisons. Memoised on the real trace's content and the options."""
    key = (_digest(real), rate, kw["detection"], kw["seed"])
    if key in _REFERENCES:
        _REFERENCES.move_to_end(key)
        log.info("scorecard: references of this real trace already computed")
        return _REFERENCES[key]
    half_a, half_b = halves(real)
    traces = {"real": real, "half_a": half_a, "half_b": half_b, "marginals": marginals(real, seed=kw["seed"])}
    profiles = {name: _Profile(t) for name, t in traces.items()}
    sizes = ladder(profiles["real"].footprint)
    log.info("scorecard: libCacheSim, %d policies x %d cache sizes, real trace, halves, marginals (%s page accesses%s)",
             len(POLICIES), len(sizes), f"{sum(len(p.pages) for p in profiles.values()):,}",
             f", spatially sampled at {rate:.3g}" if rate < 1 else "")
    _simulate(profiles, sizes, rate)
    log.info("scorecard: references%s", " and their window classifiers" if kw["detection"] else "")
    floor = _compare(profiles["half_a"], profiles["half_b"], sizes=sizes, reference=half_a, **kw)
    base = _compare(profiles["real"], profiles["marginals"], sizes=sizes, reference=real, **kw)
    _REFERENCES[key] = (profiles, sizes, floor, base)
    while len(_REFERENCES) > _KEEP_REFERENCES:
        _REFERENCES.popitem(last=False)
    return _REFERENCES[key]


# The smallest floor a ratio is taken against: where two halves of the real trace agree exactly
# (a floor of 0, e.g. the byte miss ratio of a small trace), an error of 0.002 is not "furthest".
RESOLUTION = 0.01


def _within(error: float, floor: float) -> bool:
    return bool(np.isfinite(error) and np.isfinite(floor) and error <= 2 * floor + 1e-9)


def furthest(lines: dict[str, dict]) -> str | None:
    """The metric furthest from its floor, as ``error / max(floor, RESOLUTION)``; None if none is finite."""
    ratios = {k: m["error"] / max(m["floor"], RESOLUTION) for k, m in lines.items() if np.isfinite(m["error"])}
    return max(ratios, key=ratios.get) if ratios else None


def _assemble(main: dict, floor: dict, base: dict, profiles: dict[str, _Profile], sizes: np.ndarray,
              n: tuple[int, int]) -> dict:
    nan = float("nan")
    lines = {}
    for key, (group, kind, label) in METRICS.items():
        if key not in main:
            continue
        va, vb, err = main[key]
        f, m = floor.get(key, (0, 0, nan))[2], base.get(key, (0, 0, nan))[2]
        lines[key] = {"group": group, "kind": kind, "label": label, "real": va, "synthetic": vb, "error": err,
                      "floor": f, "marginals": m, "within_2x_floor": _within(err, f)}
    head = [k for k in HEADLINE if k in lines]
    ok = [k for k in head if lines[k]["within_2x_floor"]]
    worst = furthest({k: lines[k] for k in head})
    verdict = f"{len(ok)} of {len(head)} headline metrics within 2x of the real-vs-real floor"
    if worst and not lines[worst]["within_2x_floor"]:
        verdict += f"; furthest: {worst} ({lines[worst]['error']:.3g} vs floor {lines[worst]['floor']:.3g})"
    real, synth = profiles["real"], profiles["synthetic"]
    return {
        "n_real": n[0], "n_synthetic": n[1], "verdict": verdict, "within_2x_floor": len(ok), "n_headline": len(head),
        "metrics": lines,
        "cache": {"ladder_pages": [int(s) for s in sizes], "policies": list(POLICIES),
                  "real_footprint_pages": real.footprint, "synthetic_footprint_pages": synth.footprint,
                  "object_model": "page: 4 KiB pages, every page a request spans; request: first page, request bytes",
                  "real": {k: v.tolist() for k, v in real.curves.items()},
                  "synthetic": {k: v.tolist() for k, v in synth.curves.items()}},
        "sizes": {"real_top": top_sizes(real.trace.length), "synthetic_top": top_sizes(synth.trace.length)},
        "references": {"floor": "two halves of the real trace, alternating 1,000-row blocks",
                       "marginals": "every field of the real trace resampled independently"},
    }


COMPOSITE = ("hrc_mae", "byte_mr_mae", "reuse_rate", "stack_w1", "size_tv", "read_fraction", "interarrival_ks",
             "latency_ks", "burst_err", "detection_12")


def composite_score(report: dict) -> float:
    """One number for tuning: the mean over ``COMPOSITE`` metrics (those present) of
    ``log2(max(error, floor) / floor)`` (the floor at least ``RESOLUTION``): 0 when every one is
    within its floor, +1 for each doubling beyond it, so no metric's units dominate."""
    terms = []
    for key in COMPOSITE:
        m = report["metrics"].get(key)
        if m and np.isfinite(m["error"]) and np.isfinite(m["floor"]):
            floor = max(m["floor"], RESOLUTION)
            terms.append(math.log2(max(m["error"], floor) / floor))
    return float(np.mean(terms)) if terms else float("nan")


def headline_metrics(report: dict, prefix: str = "score_") -> dict[str, float]:
    """The few numbers worth an MLflow metric: each headline error, and the verdict's count."""
    out = {f"{prefix}{k}": float(report["metrics"][k]["error"]) for k in HEADLINE
           if k in report["metrics"] and np.isfinite(report["metrics"][k]["error"])}
    out[f"{prefix}within_2x_floor"] = float(report["within_2x_floor"])
    out[f"{prefix}composite"] = composite_score(report)
    return out


def _fmt(v) -> str:
    if v is None:
        return "—"
    return "nan" if not np.isfinite(v) else f"{v:.4g}"


def format_scorecard(report: dict) -> list[str]:
    """The scorecard as text lines, grouped, one metric a line."""
    lines = [f"real {report['n_real']:,} rows vs synthetic {report['n_synthetic']:,} rows; cache sizes "
             f"{report['cache']['ladder_pages'][0]}..{report['cache']['ladder_pages'][-1]} pages (4 KiB), "
             f"real footprint {report['cache']['real_footprint_pages']:,} pages",
             f"{'metric':<22}{'real':>10}{'synthetic':>11}{'error':>10}{'floor':>10}{'marginals':>11}  ok  meaning"]
    for group in GROUPS:
        rows = [(k, m) for k, m in report["metrics"].items() if m["group"] == group]
        if not rows:
            continue
        lines.append(f"[{group}]")
        for key, m in rows:
            mark = "yes" if m["within_2x_floor"] else " no"
            lines.append(f"{key:<22}{_fmt(m['real']):>10}{_fmt(m['synthetic']):>11}{_fmt(m['error']):>10}"
                         f"{_fmt(m['floor']):>10}{_fmt(m['marginals']):>11}  {mark}  {m['label']}")
    lines += [f"{key:<22}not scored: {why}" for key, why in report.get("not_scored", {}).items()]
    lines.append(f"real top sizes: {', '.join(f'{int(s)} ({p:.1%})' for s, p in report['sizes']['real_top'][:5])}")
    lines.append(f"synthetic top sizes: {', '.join(f'{s:g} ({p:.1%})' for s, p in report['sizes']['synthetic_top'][:5])}")
    lines.append(f"verdict: {report['verdict']}")
    return lines


OBJECTIVES = ("val_mmd2", "hrc_mae", "composite")


def objective_value(name: str, val_mmd2: float | None, report: dict) -> float:
    """A run's value of a tuning objective: its final ``val_mmd2`` (``TrainResult.final_val_mmd2``),
    the scorecard's ``hrc_mae``, or ``composite_score``; ``report`` is the run's scorecard."""
    if name == "val_mmd2":
        return float("nan") if val_mmd2 is None else val_mmd2
    if name == "hrc_mae":
        return float(report["metrics"]["hrc_mae"]["error"])
    return composite_score(report)
