"""A quick profile of a trace before training on it (``ganflow inspect``): NumPy only."""

from __future__ import annotations

import numpy as np

from training.cachesim import page_accesses
from training.readers import TraceFrame
from training.trace_stats import PHASE_WINDOW, first_touches, repeat_rate, top_sizes, window_spread
from training.units import file_units

__all__ = ["profile", "format_profile"]

def profile(frame: TraceFrame, fmt: str) -> dict:
    """Rows, time span and rate, columns, units, top sizes, read fraction and its spread over windows
    (R/W phases), how often a request repeats the previous one's size and opcode, footprint and reuse rate."""
    units = frame.meta.get("units") or file_units()
    span = int(frame.timestamp[-1] - frame.timestamp[0]) if len(frame) else 0
    per_s = units.get("ticks_per_second")
    pages, owner = page_accesses(frame.lba, frame.length)
    first = np.r_[0, np.flatnonzero(np.diff(owner)) + 1]
    is_first, _, counts = first_touches(pages)
    known = frame.opcode >= 0
    return {
        "source": frame.source, "format": fmt, "rows": len(frame), "lines_skipped": frame.skipped,
        "skipped_what": frame.meta.get("skipped_why", "lines"), "volumes": frame.meta.get("volumes"),
        "columns": ["timestamp", "length", "lba"] + (["latency"] if len(frame) and np.ptp(frame.latency) > 0 else [])
        + (["opcode"] if known.any() else []),
        "units": {k: v for k, v in units.items() if k not in ("ticks_per_second", "origin", "clock") and v},
        "time_span_ticks": span, "time_span_s": span / per_s if per_s else None,
        "requests_per_s": len(frame) / (span / per_s) if per_s and span else None,
        "top_sizes": top_sizes(frame.length, 5, digits=4),
        "aligned_4k": float((np.round(frame.length) % 4096 == 0).mean()),
        "read_fraction": float((frame.opcode[known] == 0).mean()) if known.any() else None,
        "read_phase_sd": window_spread(frame.opcode == 0) if known.all() else None,
        "size_repeat": repeat_rate(np.round(frame.length)),
        "op_repeat": repeat_rate(frame.opcode) if known.all() else None,
        "footprint_pages": len(counts), "footprint_gib": len(counts) * 4096 / 2**30,
        "reuse_rate": float(1 - is_first[first].mean()),
    }


def format_profile(p: dict) -> list[str]:
    """The profile as aligned ``name  value`` lines."""
    span = f"{p['time_span_s']:,.1f} s" if p["time_span_s"] is not None else f"{p['time_span_ticks']:,} ticks"
    rate = f"{p['requests_per_s']:,.1f} requests/s" if p["requests_per_s"] else "—"
    units = dict(p["units"])
    source_unit = units.pop("source_time_unit", None)
    volumes = p.get("volumes") or {}
    listed = ", ".join(f"{name} ({k:,})" for name, k in sorted(volumes.items(), key=lambda v: -v[1])[:10])
    rows = [("source", p["source"]), ("format", p["format"]),
            ("rows", f"{p['rows']:,}" + (f" ({p['lines_skipped']:,} {p['skipped_what']} skipped)" if p["lines_skipped"] else "")),
            *((("volumes", f"{len(volumes)}: {listed}"),) if volumes else ()),
            ("time span", span), ("rate", rate), ("columns", ", ".join(p["columns"])),
            *((f"unit of {k}", v) for k, v in units.items()),
            ("time unit in file", source_unit or "not stated (kept as read; --time_unit to say)"),
            ("top sizes", ", ".join(f"{int(s):,} B ({f:.1%})" for s, f in p["top_sizes"])),
            ("4 KiB aligned", f"{p['aligned_4k']:.1%}"),
            ("read fraction", "—" if p["read_fraction"] is None else f"{p['read_fraction']:.1%}"
             + ("" if p.get("read_phase_sd") is None else
                f" (sd {p['read_phase_sd']:.2f} over {PHASE_WINDOW}-request windows: 0 = evenly mixed, 0.5 = phases)")),
            ("runs", f"{p['size_repeat']:.1%} of requests have the previous one's size"
             + ("" if p.get("op_repeat") is None else f", {p['op_repeat']:.1%} its opcode")),
            ("footprint", f"{p['footprint_pages']:,} pages of 4 KiB ({p['footprint_gib']:.2f} GiB)"),
            ("reuse rate", f"{p['reuse_rate']:.1%} of requests start on a page seen before")]
    return [f"{name:<19}{value}" for name, value in rows]
