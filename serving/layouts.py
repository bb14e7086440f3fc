"""Synthetic traces in the layouts simulators and trace tools read: MSR CSV, MQSim and DiskSim ASCII,
SPC, Alibaba, Tencent CBS, SYSTOR '17.

Each layout is the reader's (``training.published_formats.PUBLISHED``, and the MSR reader's), so a
file written here reads back through ``read_trace(path, fmt)`` as the rows that were written: one
table, two directions. Synthetic rows are in the model's units (``training.units``: nanoseconds,
bytes, 512-byte sectors for a model trained on a format that states its time unit); times become
the layout's unit — integers for ns / 100 ns / µs, decimals to the nanosecond for s and ms (pyarrow
string kernels, no float formatting), starting at the training trace's own first instant on the
layout's clock (``layout_origin``: an MSR-trained model writes MSR FILETIMEs, and Unix times in the
Alibaba layout) — sizes and offsets its bytes or sectors (a size not a whole
number of sectors rounds up). The volume column is one constant volume (``0``; MSR's host
``ganflow``, disk 0). A model without latency writes 0 where the layout has a response time; a model
without an opcode writes every request as a read (``serving.writers.check_format`` says so).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from training.config import ROW_COLUMNS
from training.errors import ConfigError
from training.units import CLOCKS, EPOCH_S, NS_PER, source_tick_ns

__all__ = ["LAYOUTS", "Layout", "layout_header", "encode_layout", "layout_origin", "ns_per_tick"]


@dataclass(frozen=True)
class Layout:
    """Per position in a line: a row column (``timestamp``, ``offset``, ``size``, ``opcode``,
    ``latency``) or a constant; the units and spellings the format uses."""

    fields: tuple[str, ...]
    time_unit: str
    offset_bytes: int
    size_bytes: int
    ops: tuple[str, str]  # read, write
    delimiter: str = ","
    header: str | None = None


def _from_published(name: str, ops: tuple[str, str] | None = None, header: str | None = None) -> Layout:
    from training.published_formats import PUBLISHED

    spec = PUBLISHED[name]
    roles = {spec.timestamp: "timestamp", spec.offset: "offset", spec.size: "size", spec.opcode: "opcode"}
    if spec.latency is not None:
        roles[spec.latency] = "latency"
    fields = tuple(roles.get(i, "0") for i in range(spec.fields))  # the volume, and any other field: 0
    if ops is None:  # the format's own codes: the one text each of read and write has
        ops = tuple(next(k for k, v in spec.opcodes.items() if v == code) for code in (0, 1))
    return Layout(fields, spec.time_unit, spec.offset_bytes, spec.size_bytes, ops, spec.delimiter, header)


LAYOUTS: dict[str, Layout] = {
    # Timestamp, Hostname, DiskNumber, Type, Offset (bytes), Size (bytes), ResponseTime, both in 100-ns ticks
    "msr": Layout(("timestamp", "ganflow", "0", "opcode", "offset", "size", "latency"), "100ns", 1, 1, ("Read", "Write")),
    "mqsim": _from_published("mqsim"),
    "disksim": _from_published("disksim"),
    "spc": _from_published("spc", ops=("r", "w")),
    "alibaba": _from_published("alibaba", ops=("R", "W")),
    "tencent": _from_published("tencent"),
    "systor": _from_published("systor", ops=("R", "W"), header="Timestamp,Response,IOType,LUN,Offset,Size"),
}


def ns_per_tick(units: dict | None, fmt: str) -> float:
    """Nanoseconds per unit of the model's times: 1 for a model trained in nanoseconds; else from the
    training format's usual ``ticks_per_second``; else a ``ConfigError`` (the layout states a unit
    and the model's are unknown)."""
    units = units or {}
    if units.get("timestamp") == "ns":
        return 1.0
    if units.get("ticks_per_second"):
        return 1e9 / float(units["ticks_per_second"])
    raise ConfigError(f"--format {fmt} writes times in {LAYOUTS[fmt].time_unit}, but this model's are in "
                      f"{units.get('timestamp') or 'an unknown unit'}: train it with --time_unit (or on a format "
                      f"that states its unit), or write csv / parquet / text4")


def layout_header(fmt: str) -> bytes:
    head = LAYOUTS[fmt].header
    return (head + "\n").encode() if head else b""


def layout_origin(units: dict | None, fmt: str) -> int | float:
    """Where layout ``fmt``'s clock starts the synthetic trace, in its unit: the training trace's first
    timestamp (``units["origin"]``, in the source's unit). Where both clocks are known
    (``training.units.CLOCKS``) it is that instant on the layout's clock (an Alibaba-trained model's
    ``msr`` output starts at the FILETIME of the trace's first µs); a relative layout (SPC, MQSim,
    DiskSim) starts at 0; where the source's clock is not known, the origin is taken as is when the
    units agree (an MSR-derived ``text6`` model writes ``msr``). Else, and for a model saved before
    origins were kept, 0."""
    units = units or {}
    origin, tick = units.get("origin") or 0, source_tick_ns(units)
    per, src, dst = NS_PER[LAYOUTS[fmt].time_unit], units.get("clock"), CLOCKS.get(fmt)
    if not origin or tick is None or (src and not dst):
        return 0
    if src and dst:  # integers where they can be: a FILETIME in ns is past float64's exact range
        ns = (origin * int(tick) if isinstance(origin, int) and tick.is_integer() else round(origin * tick)) \
            + (EPOCH_S[src] - EPOCH_S[dst]) * 10**9
        return (ns + per // 2) // per if per <= NS_PER["us"] else ns / per  # integer layouts stay exact
    return origin if tick == per else 0


def _time_text(ns: np.ndarray, unit: str, origin: int | float = 0):
    """Integer nanoseconds (plus ``origin``, in ``unit``) as the unit's text: an integer count, or
    ``whole.fraction`` to the ns. The origin is added in the unit, not in nanoseconds: a FILETIME in
    nanoseconds (~1.3e19) is past int64."""
    import pyarrow as pa
    import pyarrow.compute as pc

    per = NS_PER[unit]
    if unit in ("ns", "100ns", "us"):  # integer arithmetic: no float rounding of large times
        return pa.array((ns + per // 2) // per + round(origin))
    whole_origin = int(np.floor(origin))
    digits = len(str(per)) - 1
    whole, frac = np.divmod(ns + round((origin - whole_origin) * per), per)
    whole += whole_origin
    return pc.binary_join_element_wise(pc.cast(pa.array(whole), pa.string()),
                                       pc.utf8_lpad(pc.cast(pa.array(frac), pa.string()), digits, "0"), ".")


def _scaled(ticks: np.ndarray, per_tick: float) -> np.ndarray:
    """Whole model ticks as whole nanoseconds (an integer product where the tick is whole ns)."""
    return ticks * int(per_tick) if float(per_tick).is_integer() else np.rint(ticks * per_tick).astype(np.int64)


def encode_layout(ints: np.ndarray, fmt: str, columns: tuple[str, ...], units: dict | None) -> bytes:
    """Text bytes of ``ints`` (``ROW_COLUMNS`` order, whole numbers in the model's units) in layout
    ``fmt``; a pure function of the rows, as ``serving.writers.encode``."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    layout, per_tick, origin = LAYOUTS[fmt], ns_per_tick(units, fmt), layout_origin(units, fmt)
    col = {name: ints[:, ROW_COLUMNS.index(name)] for name in ROW_COLUMNS}
    data = {}
    for i, role in enumerate(layout.fields):
        if role in ("timestamp", "latency"):
            ns = _scaled(col[role], per_tick) if role in columns else np.zeros(len(ints), np.int64)
            value = _time_text(ns, layout.time_unit, origin if role == "timestamp" else 0)
        elif role == "offset":
            value = pa.array(col["lba"] * 512 // layout.offset_bytes)
        elif role == "size":
            value = pa.array(-(-col["length"] // layout.size_bytes))
        elif role == "opcode":
            codes = col["opcode"] if "opcode" in columns else np.zeros(len(ints), np.int64)
            value = pa.DictionaryArray.from_arrays(codes.astype(np.int8), pa.array(list(layout.ops)))
        else:
            value = pa.DictionaryArray.from_arrays(np.zeros(len(ints), np.int8), pa.array([role]))
        data[f"c{i}"] = value
    buf = io.BytesIO()
    options = pcsv.WriteOptions(include_header=False, delimiter=layout.delimiter, quoting_style="none")
    pcsv.write_csv(pa.table(data), buf, options)
    return buf.getvalue()
