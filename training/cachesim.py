"""Miss-ratio curves from libCacheSim, the field's cache simulator (no hand-written caches here).

Object models (both documented in the README, both fed to libCacheSim through its binary
``oracleGeneral`` format, one write per trace):

* **page model** — the cache holds 4 KiB pages; a request of ``length`` bytes at ``LBA`` (512-byte
  sectors) touches every page from ``floor(LBA*512 / 4096)`` to the page of its last byte, in
  order, each as one access of a 4096-byte object (at most ``MAX_PAGES_PER_REQUEST`` pages: a
  malformed synthetic size cannot make one request a million accesses). Its miss ratio is the
  fraction of page accesses that miss, which is also the byte miss ratio of whole-page I/O.
  ``hrc_mae`` is computed on this model.
* **request model** — one object per request, keyed by its first page, sized by its bytes; the
  cache capacity is the same number of 4 KiB pages in bytes. libCacheSim reports the request
  miss ratio and the byte miss ratio, which differ here because objects differ in size.

Cache sizes follow a power-of-two ladder in pages, from ``LADDER_START`` pages up to the first
power of two at or above the reference trace's footprint (distinct pages), so every curve ends
at its cold-miss floor.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = ["PAGE_BYTES", "POLICIES", "page_spans", "page_accesses", "n_page_accesses", "ladder", "miss_ratio_curves",
           "sampling_rate"]

PAGE_BYTES = 4096
SECTOR_BYTES = 512
LADDER_START = 8  # pages
MAX_PAGES_PER_REQUEST = 1024
POLICIES = ("lru", "fifo", "arc", "sieve")  # S3FIFO also works ("s3fifo"); it costs twice SIEVE's time
MAX_ACCESSES = 4_000_000  # per trace; above it, spatial sampling (SHARDS) at one rate for all traces
_PARALLEL_ACCESSES = 3_000_000  # below this many simulated accesses in all, one thread is enough
_RECORD = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def page_spans(lba: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First page and page count of each request."""
    start = np.maximum(np.asarray(lba, np.float64), 0) * SECTOR_BYTES
    first = np.floor(start / PAGE_BYTES).astype(np.int64)
    size = np.maximum(np.asarray(length, np.float64), 1)
    last = np.floor((start + size - 1) / PAGE_BYTES).astype(np.int64)
    return first, np.clip(last - first + 1, 1, MAX_PAGES_PER_REQUEST)


def n_page_accesses(lba: np.ndarray, length: np.ndarray) -> int:
    """How many page accesses ``page_accesses`` would return."""
    return int(page_spans(lba, length)[1].sum())


def page_accesses(lba: np.ndarray, length: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pages touched by each request, in order: ``(pages, request_index)`` as int64 arrays."""
    first, counts = page_spans(lba, length)
    owner = np.repeat(np.arange(len(first)), counts)
    offsets = np.arange(len(owner)) - np.repeat(np.cumsum(counts) - counts, counts)
    return first[owner] + offsets, owner


def ladder(footprint_pages: int) -> np.ndarray:
    """Cache sizes in pages: ``LADDER_START, 2*LADDER_START, …`` up to the footprint's power of two."""
    top = max(LADDER_START, 1 << max(0, math.ceil(math.log2(max(footprint_pages, 1)))))
    return LADDER_START * 2 ** np.arange(int(math.log2(top // LADDER_START)) + 1)


def sampling_rate(accesses: int, max_accesses: int = MAX_ACCESSES) -> float:
    """1 up to ``max_accesses`` accesses, then the power of two (1/2, 1/4, …) that brings the trace
    down to it: traces of similar size get the same rate, so their curves compare like with like."""
    if accesses <= max_accesses or max_accesses <= 0:
        return 1.0
    return 2.0 ** -math.ceil(math.log2(accesses / max_accesses))


def _sampled(ids: np.ndarray, rate: float) -> np.ndarray:
    """SHARDS spatial sampling: keep every access of the objects whose hash falls under ``rate``."""
    if rate >= 1:
        return np.ones(len(ids), bool)
    with np.errstate(over="ignore"):
        h = (ids.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(40)
    return h < np.uint64(int(rate * (1 << 24)))


@contextlib.contextmanager
def _quiet_stderr():
    """libCacheSim's C code warns on stderr (e.g. an object larger than a small cache); hide it."""
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _write(path: str, obj_id: np.ndarray, size: np.ndarray) -> None:
    rec = np.empty(len(obj_id), _RECORD)
    rec["time"] = np.arange(len(obj_id)) // 1000  # logical clock: no policy used here reads time
    rec["obj_id"] = obj_id.astype(np.uint64)
    rec["size"] = np.clip(size, 1, 2**32 - 1).astype(np.uint32)
    rec["next"] = -1
    rec.tofile(path)


def _simulate(task: tuple[str, str, tuple[int, ...]]) -> list[tuple[float, float]]:
    """One policy over the ladder on one oracleGeneral file: ``[(miss ratio, byte miss ratio)]``."""
    import libcachesim as lcs

    path, policy, sizes = task  # sizes in pages, already scaled by the sampling rate
    cls = {"lru": lcs.LRU, "fifo": lcs.FIFO, "arc": lcs.ARC, "s3fifo": lcs.S3FIFO, "sieve": lcs.Sieve}[policy]
    reader = lcs.TraceReader(path, lcs.TraceType.ORACLE_GENERAL_TRACE)
    out = []
    for pages in sizes:
        # libCacheSim's default hash table (2**24 buckets) costs more than a small simulation
        hashpower = min(24, max(10, math.ceil(math.log2(pages + 1)) + 1))
        cache = cls(cache_size=int(pages) * PAGE_BYTES, hashpower=hashpower)
        out.append(tuple(float(v) for v in cache.process_trace(reader)))
    return out


def miss_ratio_curves(traces: dict[str, tuple[np.ndarray, np.ndarray]], sizes: np.ndarray, *,
                      policies: tuple[str, ...] = POLICIES, workers: int = 0,
                      rate: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    """libCacheSim curves for several traces at once, spread over threads when the work is large.

    Args:
        traces: name -> (object ids, object sizes in bytes), in access order.
        sizes: cache sizes in pages (``ladder``).
        policies: names from ``POLICIES`` (``sieve`` also works).
        workers: threads; 0 = one per core when the simulation is large enough to pay for them.
        rate: spatial sampling rate (SHARDS): objects are kept by a hash of their id, the same for
            every trace, and each cache size is scaled by the rate (at least one page).

    Returns:
        name -> ``{"<policy>": miss ratios, "<policy>_bytes": byte miss ratios}``, one value per size.
    """
    sizes_t = tuple(max(1, round(int(s) * rate)) for s in sizes)
    with tempfile.TemporaryDirectory(prefix="ganflow-cachesim-") as tmp:
        files, n_acc, adjust = {}, 0, {}
        for name, (ids, obj_sizes) in traces.items():
            keep = _sampled(ids, rate)
            files[name] = os.path.join(tmp, f"{len(files)}.oracleGeneral.bin")
            _write(files[name], ids[keep], obj_sizes[keep])
            n_acc += int(keep.sum())
            # SHARDS-adj: normalise by the expected sampled count, not the drawn one (a hot object in
            # or out of the sample moves the whole curve otherwise)
            adjust[name] = (keep.sum() / max(rate * len(ids), 1e-12),
                            obj_sizes[keep].sum() / max(rate * obj_sizes.sum(), 1e-12)) if rate < 1 else (1.0, 1.0)
        tasks = [(files[name], policy, sizes_t) for name in traces for policy in policies]
        work = n_acc * len(policies) * len(sizes_t)
        workers = workers or (min(os.cpu_count() or 1, len(tasks)) if work > _PARALLEL_ACCESSES else 1)
        with _quiet_stderr(), ThreadPoolExecutor(workers) as pool:  # libCacheSim releases the GIL
            results = list(pool.map(_simulate, tasks))
    curves: dict[str, dict[str, np.ndarray]] = {name: {} for name in traces}
    for (name, policy), res in zip(((n, p) for n in traces for p in policies), results):
        req, byte = adjust[name]
        curves[name][policy] = np.clip(np.array([r[0] for r in res]) * req, 0, 1)
        curves[name][f"{policy}_bytes"] = np.clip(np.array([r[1] for r in res]) * byte, 0, 1)
    return curves
