"""CloudPhysics VSCSI binary traces (v1 and v2), as libCacheSim reads them (``vscsi.h``).

Packed little-endian records; the version is the high byte of ``ver``, checked on the first two
records (v2 first, as libCacheSim does) and then on every record:

- v1, 32 bytes: uint32 sn, uint32 len (bytes), uint32 nSG, uint16 cmd, uint16 ver,
  uint64 lbn (512-byte sectors), uint64 ts (µs);
- v2, 40 bytes: uint16 cmd, uint16 ver, uint32 sn, uint32 len, uint32 nSG, uint64 lbn,
  uint64 ts (µs), uint64 rt (response time, µs).

``cmd`` is the SCSI opcode: READ(6/10/12/16) and WRITE(6/10/12/16) are requests; other commands
(TEST UNIT READY, SYNCHRONIZE CACHE, …) carry no data and are skipped and counted, as the text6 reader's
short lines are. One trace is one virtual disk: no volumes. Read with ``numpy.frombuffer``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.compressed import read_bytes
from training.errors import DataError
from training.readers import TraceFrame, time_order
from training.units import to_ns

__all__ = ["V1", "V2", "read_vscsi", "SCSI_READ", "SCSI_WRITE"]

V1 = np.dtype([("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"), ("cmd", "<u2"), ("ver", "<u2"),
               ("lbn", "<u8"), ("ts", "<u8")])
V2 = np.dtype([("cmd", "<u2"), ("ver", "<u2"), ("sn", "<u4"), ("len", "<u4"), ("nSG", "<u4"),
               ("lbn", "<u8"), ("ts", "<u8"), ("rt", "<u8")])
SCSI_READ = (0x08, 0x28, 0xA8, 0x88)
SCSI_WRITE = (0x0A, 0x2A, 0xAA, 0x8A)
_OPCODE = np.full(1 << 16, -1, np.int8)  # cmd -> 0 read, 1 write, -1 not a data command
_OPCODE[list(SCSI_READ)], _OPCODE[list(SCSI_WRITE)] = 0, 1


def _version(raw: bytes, path: Path) -> tuple[int, np.dtype]:
    for version, dtype in ((2, V2), (1, V1)):
        head = np.frombuffer(raw, dtype, count=min(2, len(raw) // dtype.itemsize))
        if len(head) and (head["ver"] >> 8 == version).all():
            return version, dtype
    raise DataError(f"{path}: not a VSCSI trace (the first records' version byte is neither 1 nor 2 at the "
                    "offsets of a v1 or a v2 record)")


def read_vscsi(path: Path, *, max_lines: int = 0, order: str = "check") -> TraceFrame:
    """A VSCSI trace as a frame in canonical units (``max_lines`` counts records)."""
    raw = read_bytes(path)
    version, dtype = _version(raw, path)
    size = dtype.itemsize
    if len(raw) % size:
        raise DataError(f"{path}: {len(raw):,} bytes is not a whole number of {size}-byte VSCSI v{version} "
                        f"records (record {len(raw) // size + 1} is cut short at byte {len(raw) // size * size:,})")
    n = len(raw) // size
    rec = np.frombuffer(raw, dtype, count=min(n, max_lines or n))
    wrong = np.flatnonzero(rec["ver"] >> 8 != version)
    if wrong.size:
        i = int(wrong[0])
        raise DataError(f"{path}: record {i + 1} (byte {i * size:,}) has version byte {rec['ver'][i] >> 8}, not "
                        f"{version} like the first records: a corrupt file, or records of another size")
    # one pass per column (10M records: ~0.05-0.1 s a pass): the opcode from a table, no copy of the
    # records when every one is a request
    op = _OPCODE[rec["cmd"]]
    keep = op >= 0
    skipped = len(keep) - int(np.count_nonzero(keep))
    if skipped:
        rec, op = rec[keep], op[keep]
    ts = rec["ts"].astype(np.int64)
    perm = time_order(ts, order, lambda i: f"{path}: record {np.flatnonzero(keep)[i] + 1}: time {ts[i]} µs is earlier "
                                           f"than the request before it ({ts[i - 1]} µs)")
    zero = int(ts.min()) if len(ts) else 0
    ts -= zero
    latency = rec["rt"].astype(np.float64) if version == 2 else np.zeros(len(rec))
    columns = [ts, rec["len"].astype(np.float64), rec["lbn"].astype(np.float64), latency, op]
    if not isinstance(perm, slice):
        columns = [c[perm] for c in columns]
    frame = TraceFrame.from_columns(*columns, source=str(path), origin=zero)
    frame.skipped = skipped
    frame.meta["skipped_why"] = "non-data SCSI commands"
    frame.meta["vscsi_version"] = version
    return to_ns(frame, "us", latency=version == 2)
