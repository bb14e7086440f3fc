"""The bundled sample trace: a deterministic, seeded synthetic block trace.

No third-party data ships with ganflow; the default job and the tests train on this instead. It
is built to have the structure real block traces have, so a model that learns it learns
something: bursty arrivals (a two-state Markov-modulated Poisson process), a mixture of request
sizes, sequential LBA runs that jump between Zipf-popular regions, reads and writes with sticky
runs, and a latency that grows with request size and with the queue depth at arrival.
Timestamps are Windows FILETIME ticks (100 ns, 18 digits), as in the MSR Cambridge traces, so the
sample exercises the int64 timestamp path.
"""

from __future__ import annotations

import numpy as np

from training.readers import TraceFrame
from training.units import UNSTATED, file_units

__all__ = ["make_sample_trace", "SAMPLE_ORIGIN"]

SAMPLE_ORIGIN = 128_166_372_000_000_000  # 2007-02-22 in FILETIME ticks
_SIZES = np.array([4096, 8192, 16384, 65536, 131072])
_SIZE_P = np.array([0.40, 0.15, 0.10, 0.25, 0.10])
_MEAN_GAP = np.array([5_000.0, 200_000.0])  # ticks: 0.5 ms in a burst, 20 ms between bursts
_MEAN_STAY = np.array([200.0, 30.0])  # requests per state visit


def _states(n: int, rng: np.random.Generator) -> np.ndarray:
    out = np.empty(n, np.int64)
    i, state = 0, 0
    while i < n:
        stay = 1 + rng.geometric(1.0 / _MEAN_STAY[state])
        out[i:i + stay] = state
        i += stay
        state = 1 - state
    return out


def _sticky(n: int, p_switch: float, p_one: float, rng: np.random.Generator) -> np.ndarray:
    """A 0/1 sequence in runs of mean length 1/p_switch, each run 1 with probability p_one."""
    starts = rng.random(n) < p_switch
    starts[0] = True
    values = (rng.random(n) < p_one).astype(np.int64)
    return values[np.maximum.accumulate(np.where(starts, np.arange(n), 0))]


def make_sample_trace(n_rows: int = 20_000, *, seed: int = 0) -> TraceFrame:
    """Return ``n_rows`` requests of the sample trace; the same seed gives the same rows."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(_MEAN_GAP[_states(n_rows, rng)])
    gaps[0] = 0.0
    ticks = np.cumsum(gaps).astype(np.int64)

    opcode = _sticky(n_rows, p_switch=0.15, p_one=0.35, rng=rng).astype(np.int8)  # 1 = write
    length = rng.choice(_SIZES, size=n_rows, p=_SIZE_P).astype(np.int64)

    # Sequential runs: a jump starts a run at an 8-sector-aligned spot of a Zipf-popular region;
    # inside a run each request starts where the previous one ended.
    jump = rng.random(n_rows) < 0.3
    jump[0] = True
    region = np.minimum(rng.zipf(1.3, n_rows), 64) - 1
    start = region * 2_000_000 + rng.integers(0, 250_000, n_rows) * 8
    run_id = np.cumsum(jump) - 1
    sectors = length // 512
    consumed = np.cumsum(sectors) - sectors
    lba = start[jump][run_id] + consumed - consumed[jump][run_id]

    window = 10_000  # 1 ms of ticks
    queue_depth = np.arange(n_rows) - np.searchsorted(ticks, ticks - window)
    base = np.where(opcode == 1, 3_000.0, 20_000.0)  # writes hit the cache: 0.3 ms vs 2 ms
    latency = (base + length / 100.0 * 0.8 + queue_depth * 1_500.0) * rng.lognormal(0.0, 0.35, n_rows)

    frame = TraceFrame.from_columns(ticks, length, lba, np.rint(latency), opcode,
                                    source=f"sample(n_rows={n_rows}, seed={seed})", origin=SAMPLE_ORIGIN)
    frame.meta["units"] = file_units(*UNSTATED["text6"])  # written and read back as text6
    return frame
