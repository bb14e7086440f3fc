"""One canonical form for every trace read: time and latency in integer nanoseconds relative to the
first request, sizes in bytes, addresses in 512-byte sectors.

Each reader knows its source's time unit (MSR: 100-ns FILETIME ticks; Alibaba: µs; Tencent: s; …)
and converts; ``TraceFrame.meta["units"]`` records both the canonical and the source's unit. Formats
whose files do not say their unit (``text6``, ``text4``, ``csv``, ``text``) keep the file's
numbers unless ``--time_unit`` names the unit — the reference recipe (docs/REFERENCE.md) depends on
that, since it writes its synthetic trace in the units it read.
"""

from __future__ import annotations

import numpy as np

from training.errors import DataError

__all__ = ["NS_PER", "TIME_UNITS", "UNSTATED", "EPOCH_S", "CLOCKS", "to_ns", "file_units", "canonical_units", "with_origin",
           "source_tick_ns"]

NS_PER = {"ns": 1, "100ns": 100, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
TIME_UNITS = tuple(NS_PER)


def canonical_units(source_time_unit: str, *, latency: bool = True) -> dict:
    """The ``meta["units"]`` of a frame converted to nanoseconds from ``source_time_unit``."""
    return {"timestamp": "ns", "latency": "ns" if latency else "none", "length": "bytes",
            "lba": "512-byte sectors", "source_time_unit": source_time_unit, "ticks_per_second": 1e9}


def file_units(note: str = "the file's unit", ticks_per_second: float | None = None) -> dict:
    """The ``meta["units"]`` of a frame whose time unit nobody stated (numbers kept as read);
    ``ticks_per_second`` only where the format's usual data says (``text6``: MSR-derived text)."""
    return {"timestamp": note, "latency": note, "length": "bytes", "lba": "512-byte sectors",
            "source_time_unit": "", "ticks_per_second": ticks_per_second}


def with_origin(units: dict | None, origin: int | float) -> dict | None:
    """``units`` with the trace's ``origin`` (its first timestamp, in the source's unit) added: what a
    model keeps so that a layout can continue the trace's clock (``serving.layouts.layout_origin``);
    None stays None."""
    return None if units is None else {**units, "origin": origin}


def source_tick_ns(units: dict | None) -> float | None:
    """Nanoseconds per tick of the source file's clock (``origin``'s unit); None where unknown."""
    units = units or {}
    if units.get("source_time_unit") in NS_PER:
        return float(NS_PER[units["source_time_unit"]])
    per_s = units.get("ticks_per_second")
    return 1e9 / float(per_s) if per_s and units.get("timestamp") != "ns" else None


# the zero of each format's absolute clock, in seconds from 1970-01-01 (Unix): MSR's FILETIME counts
# from 1601-01-01; Alibaba, Tencent CBS and SYSTOR '17 count Unix time; the rest are relative or unstated
EPOCH_S = {"unix": 0, "filetime": -11_644_473_600}
CLOCKS = {"msr": "filetime", "alibaba": "unix", "tencent": "unix", "systor": "unix"}


# formats whose files do not state their time unit: what ``ganflow inspect`` says of them
UNSTATED = {"text6": ("the file's ticks (100 ns in the reference recipe's MSR data)", 1e7),
            "text4": ("the training trace's unit", None)}


def to_ns(frame, unit: str, *, latency: bool = True):
    """Scale ``frame``'s relative timestamps and latency from ``unit`` to integer nanoseconds, in place
    (``origin`` stays in the source's unit: it is where the file's clock started). ``latency=False``:
    the format has none (its column is zeros) and it is left alone."""
    if unit not in NS_PER:
        raise DataError(f"--time_unit {unit}: not a time unit; valid units: {', '.join(TIME_UNITS)}")
    factor = NS_PER[unit]
    ts = frame.timestamp
    if len(ts) and float(np.max(ts)) * factor >= 2**63:
        raise DataError(f"{frame.source}: a time span of {np.max(ts)} {unit} does not fit in 64-bit nanoseconds")
    if not np.issubdtype(ts.dtype, np.integer):
        frame.timestamp = np.rint(ts * factor).astype(np.int64)
    elif factor != 1:  # in place where the frame's column is its own (10M rows: one copy less)
        frame.timestamp = np.multiply(ts, factor, out=ts if ts.flags.writeable else None)
    if latency and factor != 1:  # without latency the column is the readers' zeros
        lat = frame.latency
        frame.latency = np.multiply(lat, factor, out=lat if lat.flags.writeable else None)
        if not np.issubdtype(lat.dtype, np.integer):  # whole nanoseconds, as the timestamps: 0.620213 s -> 620213000
            np.rint(frame.latency, out=frame.latency)
    frame.meta["units"] = canonical_units(unit, latency=latency)
    return frame
