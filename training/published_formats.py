"""Block traces as their authors publish them: one table of column positions and units.

=========  =====================================================  ====================
format     columns (0-based position: meaning, unit)              volume
=========  =====================================================  ====================
spc        0 ASU, 1 LBA (512-byte blocks), 2 size (bytes),        ASU
           3 opcode r/w, 4 timestamp (s, fractional)
           — SPC / UMass (Financial, WebSearch)
alibaba    0 device, 1 opcode R/W, 2 offset (bytes),              device
           3 length (bytes), 4 timestamp (µs)
tencent    0 timestamp (s), 1 offset (sectors), 2 size            VolumeID
           (sectors), 3 IOType 0 read / 1 write, 4 VolumeID
           — Tencent CBS
systor     0 Timestamp (s), 1 Response (s), 2 IOType R/W,         LUN
           3 LUN, 4 Offset (bytes), 5 Size (bytes); header line
           — SYSTOR '17
disksim    0 arrival (ms), 1 device, 2 block (512 B), 3 size      device
           (blocks), 4 flags (1 read, 0 write); whitespace
mqsim      0 arrival (ns), 1 device, 2 LBA (sectors), 3 size      device
           (sectors), 4 type (1 read, 0 write); whitespace
blkparse   blkparse's default text: device, cpu, seq, time (s),   device
           pid, action, RWBS, sector + count; "Q" events only
=========  =====================================================  ====================

Every format becomes the same ``TraceFrame`` as the other readers, in the canonical units of
``training.units``: integer nanoseconds relative to the first request; size in bytes; LBA in
512-byte sectors; latency only where the format has it (0 otherwise, which the typed model treats
as absent); the opcode 0 read / 1 write — a value outside the format's table is an error, never
"unknown". A trace of several volumes must say which (``volume``: ids comma-separated — semicolons
when ids hold commas, as blkparse's ``8,0`` do — or ``all``); without it, the error lists the
volumes and their request counts. Fast path: pyarrow's C parser and NumPy; on anything unusual the
per-line reader runs and names ``file:line:column``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.compressed import read_bytes
from training.errors import DataError
from training.readers import _OPCODES, TraceFrame, parse_number, time_order
from training.units import to_ns

__all__ = ["PUBLISHED", "Published", "read_published", "select_volumes"]


@dataclass(frozen=True)
class Published:
    """Where each field is in a line and how its unit converts (see the module table)."""

    fields: int
    timestamp: int
    offset: int
    size: int
    opcode: int
    volume: int
    opcodes: dict[str, int]
    time_unit: str = "us"  # the source's (training.units.NS_PER); converted to ns
    offset_bytes: int = 1  # bytes per unit of the offset column
    size_bytes: int = 1
    latency: int | None = None
    delimiter: str = ","  # " " means any run of whitespace
    header: str | None = None  # a first field that marks a header line
    units: dict[str, str] = field(default_factory=dict)


_RW = _OPCODES  # read/write/r/w, as every text reader
_TYPE_1_READ = {"1": 0, "0": 1}
PUBLISHED: dict[str, Published] = {
    "spc": Published(5, 4, 1, 2, 3, 0, _RW, time_unit="s", offset_bytes=512),
    "alibaba": Published(5, 4, 2, 3, 1, 0, _RW),
    "tencent": Published(5, 0, 1, 2, 3, 4, {"0": 0, "1": 1}, time_unit="s", offset_bytes=512, size_bytes=512),
    "systor": Published(6, 0, 4, 5, 2, 3, _RW, time_unit="s", latency=1, header="Timestamp"),
    "disksim": Published(5, 0, 2, 3, 4, 1, _TYPE_1_READ, time_unit="ms", offset_bytes=512, size_bytes=512,
                         delimiter=" "),
    "mqsim": Published(5, 0, 2, 3, 4, 1, _TYPE_1_READ, time_unit="ns", offset_bytes=512, size_bytes=512,
                       delimiter=" "),
    # blkparse's default text output: the "Q" (queued) events, e.g.
    # "8,0  3  1  0.000000000  697  Q  R  223490 + 8 [kjournald]"; its own parser (_blkparse)
    "blkparse": Published(10, 3, 7, 9, 6, 0, _RW, time_unit="s", offset_bytes=512, size_bytes=512,
                          delimiter=" "),
}


class _Columns:
    """Parsed fields before unit conversion: ``volume`` is a code per row into ``volume_names``;
    ``lines`` maps rows back to file lines (careful path only)."""

    def __init__(self, ts, offset, size, opcode, volume, volume_names, latency, lines=None) -> None:
        self.ts, self.offset, self.size, self.opcode = ts, offset, size, opcode
        self.volume, self.volume_names, self.latency, self.lines = volume, volume_names, latency, lines


def _fast(path: Path, spec: Published, max_lines: int) -> _Columns | None:
    """pyarrow's C parser and vectorised checks, or None (then the careful reader explains)."""
    import pyarrow as pa

    from training.fast_readers import _checked, _dictionary, _numbers, _read, _timestamps

    if spec.delimiter == " ":
        return None  # variable-width whitespace: pyarrow's parser takes one delimiter character
    names = [f"c{i}" for i in range(spec.fields)]
    text = pa.dictionary(pa.int32(), pa.string())
    skip = 1 if spec.header and _first_field(path) == spec.header else 0
    rows = max(max_lines - skip, 1) if max_lines else 0  # max_lines counts the header line, as the careful path
    op_names: dict[str, int] = {}
    volume_names: dict[str, int] = {}
    roles = ("timestamp", "offset", "size") + (("latency",) if spec.latency is not None else ())

    def convert(t):
        got = {role: (_timestamps if role == "timestamp" else _numbers)(t, names[getattr(spec, role)]) for role in roles}
        if t.column(names[spec.opcode]).null_count or t.column(names[spec.volume]).null_count:
            return None
        got["opcode"] = _dictionary(t.column(names[spec.opcode]), op_names)[0]
        got["volume"] = _dictionary(t.column(names[spec.volume]), volume_names)[0]
        return _checked(got)

    c = _read(path, names=names, skip=skip, delimiter=spec.delimiter, rows=rows, convert=convert,
              types={names[spec.opcode]: text, names[spec.volume]: text})
    if c is None:
        return None
    table = np.array([spec.opcodes.get(n.strip().lower(), -1) for n in op_names] or [-1], np.int8)
    opcode = table[c["opcode"]]
    if (opcode < 0).any():
        return None
    return _Columns(c["timestamp"], c["offset"], c["size"], opcode, c["volume"], [v.strip() for v in volume_names],
                    c.get("latency"))


def _first_field(path: Path) -> str:
    from training.readers import _lines

    for _, text in _lines(path, 1):
        return text.split(",")[0].strip()
    return ""


def _careful(path: Path, spec: Published, max_lines: int) -> _Columns:
    """Line by line; every malformed value is a DataError naming ``file:line:column``."""
    from training.readers import _lines

    cols: dict[str, list] = {k: [] for k in ("timestamp", "offset", "size", "latency", "opcode", "volume", "line")}
    for lineno, text in _lines(path, max_lines):
        fields = [f.strip() for f in (text.split() if spec.delimiter == " " else text.rstrip("\r\n").split(","))]
        if not any(fields):
            continue
        if lineno == 1 and spec.header and fields[0] == spec.header:
            continue
        if len(fields) < spec.fields:
            raise DataError.at(path, lineno, None, f"expected {spec.fields} fields, found {len(fields)}: "
                                                   f"{text.strip()[:80]!r}")
        for role in ("timestamp", "offset", "size") + (("latency",) if spec.latency is not None else ()):
            j = getattr(spec, role)
            text_j = fields[j]
            if role == "timestamp" and text_j.isdigit():  # integer ticks stay exact, as on the fast path
                if int(text_j) >= 2**63:
                    raise DataError.at(path, lineno, j + 1, f"timestamp {text_j} does not fit in 64 bits")
                cols[role].append(int(text_j))
            else:
                cols[role].append(parse_number(path, text_j, lineno, j + 1, role))
        op = spec.opcodes.get(fields[spec.opcode].lower())
        if op is None:
            raise DataError.at(path, lineno, spec.opcode + 1, f"opcode: {fields[spec.opcode]!r} is not one of "
                                                              f"{', '.join(sorted(spec.opcodes))}")
        cols["opcode"].append(op)
        cols["volume"].append(fields[spec.volume])
        cols["line"].append(lineno)
    latency = np.array(cols["latency"]) if spec.latency is not None else None
    volume_names, volume = np.unique(np.array(cols["volume"], dtype=str), return_inverse=True)
    return _Columns(np.array(cols["timestamp"]), np.array(cols["offset"]), np.array(cols["size"]),
                    np.array(cols["opcode"], np.int8), volume, list(volume_names), latency, np.array(cols["line"]))


def _blkparse(path: Path, max_lines: int) -> _Columns:
    """The queued ("Q") events of ``blkparse`` text output, one request each (sector + count; the
    RWBS field's R or W is the opcode, so flushes and discards without R/W are skipped). Other
    events and the summary at the end are not requests and are skipped."""
    from training.readers import _lines

    cols: dict[str, list] = {k: [] for k in ("timestamp", "offset", "size", "opcode", "volume", "line")}
    for lineno, text in _lines(path, max_lines):
        f = text.split()
        if len(f) < 10 or f[5] != "Q" or f[8] != "+":
            continue
        rwbs = f[6].upper()
        op = 1 if "W" in rwbs else 0 if "R" in rwbs else None
        if op is None:
            continue
        cols["timestamp"].append(parse_number(path, f[3], lineno, 4, "timestamp"))
        cols["offset"].append(parse_number(path, f[7], lineno, 8, "sector"))
        cols["size"].append(parse_number(path, f[9], lineno, 10, "size"))
        cols["opcode"].append(op)
        cols["volume"].append(f[0])
        cols["line"].append(lineno)
    volume_names, volume = np.unique(np.array(cols["volume"], dtype=str), return_inverse=True)
    return _Columns(np.array(cols["timestamp"]), np.array(cols["offset"]), np.array(cols["size"]),
                    np.array(cols["opcode"], np.int8), volume, list(volume_names), None, np.array(cols["line"]))


def select_volumes(codes: np.ndarray, volume_names: list[str], path: Path, fmt: str,
                   volume: str) -> tuple[np.ndarray, dict[str, int]]:
    """Rows to keep — those of the volumes ``volume`` names (module docstring) — and the kept
    volumes' request counts; a ``DataError`` listing the trace's volumes when it has several and
    ``volume`` chooses none."""
    counts = np.bincount(codes, minlength=len(volume_names))
    present = counts > 0
    names = [n for n, p in zip(volume_names, present) if p]
    counts = counts[present]
    # ids are comma-separated; semicolons when an id holds a comma (blkparse's "8,0"); one whole id also works
    whole = volume.strip()
    sep = ";" if ";" in volume else None if whole in names else ","
    wanted = [whole] if sep is None else [v.strip() for v in volume.split(sep) if v.strip()]
    if wanted == ["all"] or (not wanted and len(names) <= 1):
        return np.ones(len(codes), bool), dict(zip(names, counts.tolist()))
    if not wanted:
        listed = ", ".join(f"{n} ({k:,} requests)" for n, k in sorted(zip(names, counts), key=lambda p: -p[1])[:20])
        raise DataError(f"{path}: a {fmt} trace of {len(names)} volumes; choose with --volume ID[,ID] or "
                        f"--volume all: {listed}")
    missing = [v for v in wanted if v not in set(names)]
    if missing:
        raise DataError(f"{path}: no volume {', '.join(missing)} in this {fmt} trace "
                        f"(it has {', '.join(names[:20])})")
    return (np.isin(codes, [i for i, n in enumerate(volume_names) if n in wanted]),
            {n: int(k) for n, k in zip(names, counts) if n in wanted})


def read_published(path: Path, fmt: str, *, max_lines: int = 0, volume: str = "", order: str = "check",
                   fast: bool = True) -> TraceFrame:
    """Read ``path`` as ``fmt`` (a key of ``PUBLISHED``) into a ``TraceFrame`` (module docstring)."""
    spec = PUBLISHED[fmt]
    if fmt == "blkparse":
        c = _blkparse(path, max_lines)
    else:
        c = _fast(path, spec, max_lines) if fast else None
        if c is not None and order == "check" and (np.diff(c.ts) < 0).any():
            c = None  # the careful reader names the lines
        c = c if c is not None else _careful(path, spec, max_lines)
    keep, kept = select_volumes(c.volume, c.volume_names, path, fmt, volume)
    keep = slice(None) if keep.all() else keep  # one volume, or all: no copies (10M rows: ~0.05 s a column)
    raw = np.asarray(c.ts)[keep]
    lines = c.lines[keep] if c.lines is not None else None
    perm = time_order(raw, order, lambda i: (f"{path}:{lines[i]}" if lines is not None else str(path))
                      + f": timestamp goes back ({raw[i]} {spec.time_unit} after {raw[i - 1]})")
    latency = np.asarray(c.latency, np.float64)[keep] if c.latency is not None else np.zeros(len(raw))
    length = np.asarray(c.size, np.float64)[keep]
    if spec.size_bytes != 1:
        length = length * spec.size_bytes
    lba = np.asarray(c.offset, np.float64)[keep] * spec.offset_bytes  # a new array, scaled in place below
    lba /= 512
    np.floor(lba, out=lba)
    raw = raw[perm]
    zero = raw.min() if len(raw) else 0
    frame = TraceFrame.from_columns(raw - zero, length[perm], lba[perm], latency[perm], c.opcode[keep][perm],
                                    source=str(path), origin=zero.item() if len(raw) else 0)
    frame.meta["volumes"] = kept
    return to_ns(frame, spec.time_unit, latency=spec.latency is not None)


# libCacheSim's oracleGeneral binary records (packed, little-endian): uint32 time (s), uint64 object id,
# uint32 size (bytes), int64 next access (requests; -1 none). The ids are not addresses (often hashes).
ORACLE_GENERAL = np.dtype([("time", "<u4"), ("obj_id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def read_oracle_general(path: Path, *, max_lines: int = 0, order: str = "check") -> TraceFrame:
    """An oracleGeneral trace: ``max_lines`` counts records. Objects have ids, not addresses, so each
    distinct object gets its own address range, in order of first appearance (dense, 4 KiB-aligned,
    as wide as its largest request): reuse, stack distances and miss ratios are the trace's own;
    seek distances and sequentiality mean nothing. No opcode, no latency."""
    raw = read_bytes(path)
    size = ORACLE_GENERAL.itemsize
    if len(raw) % size:
        raise DataError(f"{path}: {len(raw):,} bytes is not a whole number of {size}-byte oracleGeneral records "
                        f"(record {len(raw) // size + 1} is cut short at byte {len(raw) // size * size:,})")
    rec = np.frombuffer(raw, ORACLE_GENERAL, count=min(len(raw) // size, max_lines or len(raw) // size))
    ts = rec["time"].astype(np.int64)
    perm = time_order(ts, order, lambda i: f"{path}: record {i + 1}: time {ts[i]} s is earlier than {ts[i - 1]} s in record {i}")
    import pandas as pd

    # each pass over the records counts (10M records: ~0.05-0.1 s a pass), so each column is made once
    code, ids = pd.factorize(rec["obj_id"])  # hashing, codes in order of first appearance
    length = rec["size"].astype(np.float64)
    widest = np.ones(len(ids))
    np.maximum.at(widest, code, np.ceil(length / 4096.0))  # pages per object, at least 1
    first_sector = np.zeros(len(ids))
    np.cumsum(widest[:-1] * 8.0, out=first_sector[1:])  # objects end to end, in 512-byte sectors
    lba = first_sector[code]
    ts = ts[perm]  # our own array: made relative in place
    zero = int(ts.min()) if len(ts) else 0
    ts -= zero
    frame = TraceFrame.from_columns(ts, length[perm], lba[perm], np.zeros(len(rec)), None, source=str(path),
                                    origin=zero)
    to_ns(frame, "s", latency=False)
    frame.meta["units"]["lba"] = "512-byte sectors (one range per object)"
    return frame
