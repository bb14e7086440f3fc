"""Read/write phases (``--phases``): the opcode head's noise made slow, so opcodes come in regimes.

On MSR web0 the read fraction of consecutive windows hardly averages out as the windows grow: sd
0.45 over 12-request windows, 0.42 over 256, 0.40 over 1,024, 0.37 over 4,096 (the training part;
0.50 would be all-or-nothing) — reads and writes come in phases thousands of requests long, with
short interjections (runs of one opcode: median 2, 99th percentile 179). G's logits hold a regime
for ~100 rows and its sticky noise (``training.sticky``) makes runs of ~10: a 1,000-row stream's
read fraction spread 0.19–0.23 (docs/QUALITY.md).

After training, each stream makes the opcode head's standard-normal noise inputs (those of the
Gumbel-max trick, ``training.models``)

    z_t = sqrt(rho) s_t + sqrt(1 - rho) e_t,   s_t = a s_{t-1} + sqrt(1 - a²) e'_t,   a = exp(-1/tau)

before the sticky keep (probability ``q``). Every row's noise is still standard normal, so each
row's category probabilities are exactly what G's logits say — the mix, and the calibration that
set it, are unchanged — but a slow ``s`` that favours reads keeps the draws reading: a phase. G's
LSTM does not see the heads' noise, so nothing else changes. ``(rho, tau, q)`` are fitted once, on
the kept generator's calibrated rollout (``training.calibration.rollout``): the grid point whose
draws come nearest the training rows' repeat rate and read-fraction spreads over ``WIDTHS`` rows,
in trace order; ``rho = 0`` (the sticky keep alone, refitted) is on the grid. The noise comes from
(seed, stream, block) in row order, as the rest of a stream's (``StreamNoise``), so torch, ONNX and
every worker draw the same opcodes.
"""

from __future__ import annotations

import math

import numpy as np

from training.levels import ar1, phi
from training.sticky import fill_kept

__all__ = ["TAUS", "RHOS", "KEEPS", "WIDTHS", "decay", "mix_slow", "spread_stats", "fit"]

# rows: the phases' time scales tried; none longer than half a rollout stream (8,192 rows), whose
# windows of up to 1,024 rows cannot tell a longer phase from one of 4,096
TAUS = (256, 1024, 4096)
RHOS = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)  # the slow share of the noise's variance tried
KEEPS = (0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)  # the sticky keep probability tried with each
WIDTHS = (12, 256, 1024)  # rows: windows whose category shares' spread is matched
_SEED = 1 << 21  # the fit's noise, apart from any sample's


def decay(tau: float) -> float:
    """The AR(1) coefficient of a phase of ``tau`` rows."""
    return math.exp(-1.0 / tau)


def mix_slow(z: np.ndarray, prev: np.ndarray, e: np.ndarray, rho: float, a: float) -> np.ndarray:
    """``z`` ``(n, w)`` (a head's fresh noise inputs) made ``sqrt(rho) s + sqrt(1 - rho) z``, ``s`` an
    AR(1) per input driven by ``e`` (``(n, w)``) from ``prev`` (``(w,)``, its last value): in place;
    returns the new ``prev``."""
    slow = np.column_stack([ar1(e[:, j].astype(np.float64), float(prev[j]), a) for j in range(z.shape[1])])
    z[:] = math.sqrt(rho) * slow + math.sqrt(1.0 - rho) * z
    return slow[-1].copy()


def spread_stats(cats: np.ndarray, k: int) -> np.ndarray:
    """``[repeat rate, spread over WIDTHS...]`` of category streams ``cats`` (``(S, T)`` ints in
    ``[0, k)``): how often a row has its predecessor's category, and the sd of each category's share
    over consecutive windows (pooled over streams), averaged over categories; NaN where a stream has
    under two windows."""
    cats = np.atleast_2d(cats)
    out = [float(np.mean(cats[:, 1:] == cats[:, :-1]))]
    for w in WIDTHS:
        m = cats.shape[1] // w
        if m < 2:
            out.append(float("nan"))
            continue
        share = np.stack([(cats[:, :m * w] == c).reshape(-1, w).mean(1) for c in range(k)])
        out.append(float(share.std(axis=1).mean()))
    return np.array(out)


def fit(logits: np.ndarray, target: np.ndarray, keeps: tuple[float, ...] = KEEPS) -> dict:
    """The phases of one head: ``{"rho", "tau", "keep", "stats", "target"}`` — the grid point whose
    Gumbel-max draws from ``logits`` (``(S, T, k)``: the calibrated generator's streams, in order)
    have ``spread_stats`` nearest ``target`` (the training rows' ``spread_stats``; L1 over the
    statistics both have); ``keeps``: the sticky keep probabilities tried ((0,) where streams keep none)."""
    s, t, k = logits.shape
    rng = np.random.default_rng(_SEED)
    fresh, drive = rng.standard_normal((s, t, k)), rng.standard_normal((s, t, k))
    start, keep_u = rng.standard_normal((s, k)), rng.random((s, t))
    best = None
    for tau in TAUS:
        a = decay(tau)
        slow = np.stack([np.column_stack([ar1(drive[i, :, j], start[i, j], a) for j in range(k)]) for i in range(s)])
        for rho in RHOS:
            if rho == 0 and tau != TAUS[0]:
                continue  # no slow share: the same for every tau
            z = math.sqrt(rho) * slow + math.sqrt(1.0 - rho) * fresh
            for q in keeps:
                zq = z.copy()
                if q:
                    for i in range(s):
                        fill_kept(zq[i], keep_u[i] < q, zq[i, 0])
                u = np.clip(phi(zq), 1e-6, 1.0 - 1e-6)
                cats = np.argmax(logits - np.log(-np.log(u)), axis=-1)
                got = spread_stats(cats, k)
                both = np.isfinite(got) & np.isfinite(target)
                err = float(np.abs(got[both] - target[both]).sum())
                if best is None or err < best[0] - 1e-12:
                    best = (err, rho, tau, q, got)
    _, rho, tau, q, got = best
    return {"rho": rho, "tau": tau if rho else 0, "keep": q, "stats": [round(float(v), 4) for v in got],
            "target": [round(float(v), 4) for v in target]}
