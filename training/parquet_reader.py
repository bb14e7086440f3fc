"""Parquet traces: ganflow's own synthetic output (its units in the file's metadata), or any table
with numeric timestamp / length / LBA columns, mapped by name or 1-based position (``--columns``)
like ``csv``. Read with pyarrow, checked column by column; a bad value names the column and row.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from training.column_map import column_map
from training.errors import DataError
from training.readers import _OPCODES, TraceFrame, time_order

__all__ = ["read_parquet", "UNITS_KEY"]

UNITS_KEY = b"ganflow.units"  # JSON of training.units' dict, in the Parquet schema metadata


def _numeric(table, i: int, path: Path, name: str, *, integer_ok: bool = True) -> np.ndarray:
    import pyarrow as pa

    col = table.column(i)
    where = f"{path}: column {table.column_names[i]!r} ({name})"
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise DataError(f"{where} is {col.type}, not a number")
    if col.null_count:
        row = int(np.flatnonzero(col.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{where}: row {row + 1} is empty")
    x = col.to_numpy()
    bad = np.flatnonzero(~np.isfinite(x) | (x < 0)) if x.dtype.kind == "f" else np.flatnonzero(x < 0)
    if bad.size:
        raise DataError(f"{where}: row {bad[0] + 1} holds {x[bad[0]].item()!r} (values must be finite and >= 0)")
    return x.astype(np.int64) if integer_ok and x.dtype.kind in "iu" else x.astype(np.float64)


def _opcode(table, i: int, path: Path) -> np.ndarray:
    import pyarrow.compute as pc

    col = table.column(i)
    text = pc.utf8_lower(pc.cast(col, "string")).to_numpy(zero_copy_only=False)
    op = np.full(len(text), -1, np.int8)
    for name, code in {**_OPCODES, "0": 0, "1": 1}.items():  # the text readers' names, and 0/1
        op[text == name] = code
    if (op < 0).any():
        row = int(np.flatnonzero(op < 0)[0])
        raise DataError(f"{path}: column {table.column_names[i]!r} (opcode): row {row + 1} holds {text[row]!r}, "
                        "not R/W, read/write or 0/1")
    return op


def read_parquet(path: Path, *, max_lines: int = 0, columns: str = "", order: str = "check",
                 time_unit: str = "") -> TraceFrame:
    """A Parquet trace as a frame; ``max_lines`` counts rows. Units: the file's ``ganflow.units``
    metadata when ganflow wrote it, else ``time_unit`` (else kept as read)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        table = pf.read() if not max_lines else pa.Table.from_batches(
            list(_head(pf, max_lines)), schema=pf.schema_arrow).slice(0, max_lines)
    except (OSError, pa.ArrowInvalid) as exc:
        raise DataError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    meta = pf.schema_arrow.metadata or {}
    idx, missing = column_map(columns, table.column_names)
    if missing:
        raise DataError(f"{path}: columns {table.column_names} lack {', '.join(missing)} (set --columns)")
    if any(i is not None and i >= table.num_columns for i in idx.values()):
        raise DataError(f"{path}: --columns {columns!r} names a position beyond the file's {table.num_columns} columns")
    ts = _numeric(table, idx["timestamp"], path, "timestamp")
    length, lba = (_numeric(table, idx[k], path, k, integer_ok=False) for k in ("length", "lba"))
    latency = (_numeric(table, idx["latency"], path, "latency", integer_ok=False) if idx["latency"] is not None
               else np.zeros(len(ts)))
    op = _opcode(table, idx["opcode"], path) if idx["opcode"] is not None else np.full(len(ts), -1, np.int8)
    perm = time_order(ts, order, lambda i: f"{path}: row {i + 1}: timestamp {ts[i]} is earlier than {ts[i - 1]} in row {i}")
    zero = ts.min() if len(ts) else 0
    frame = TraceFrame.from_columns((ts - zero)[perm], length[perm], lba[perm], latency[perm], op[perm],
                                    source=str(path), origin=zero.item() if len(ts) else 0)
    units = json.loads(meta[UNITS_KEY]) if UNITS_KEY in meta else None
    if units and units.get("timestamp") == "ns":  # ganflow's output of a model trained in ns
        if time_unit not in ("", "ns"):
            raise DataError(f"--time_unit {time_unit}: {path} says its times are in ns")
        frame.meta["units"] = units
    elif time_unit:
        from training.units import to_ns

        to_ns(frame, time_unit, latency=idx["latency"] is not None)
    elif units:
        frame.meta["units"] = units
    return frame


def _head(pf, n: int):
    got = 0
    for batch in pf.iter_batches(batch_size=min(n, 1 << 16)):
        yield batch
        got += batch.num_rows
        if got >= n:
            return
