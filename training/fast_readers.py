"""The fast path of the text readers: pyarrow's C CSV parser, then vectorised checks.

``fast_read`` returns the same ``TraceFrame`` as the careful per-line readers of
``training.readers`` for a well-formed file, or None as soon as anything is unusual (a parse
error, a ragged or blank line, a negative or non-finite value, time going backwards where that
is refused, an unknown header): the careful reader then runs and names the exact
``file:line:column``. So every malformed-input message stays the careful reader's, and a clean
file costs what the C parser costs. ``seed`` (variable-width whitespace lines, short ones
skipped) always takes the careful path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["fast_read", "FAST_FORMATS"]

FAST_FORMATS = ("msr", "csv", "seed_synth")
_MSR = ("Timestamp", "Hostname", "DiskNumber", "Type", "Offset", "Size", "ResponseTime")
_BATCH = 1 << 20
_OPCODE = {"read": 0, "r": 0, "write": 1, "w": 1}  # as training.readers._OPCODES


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


def _stream(path: Path):
    import pyarrow as pa

    return pa.input_stream(str(path), compression="gzip" if _is_gzip(path) else None)


def _read(path: Path, *, names: list[str] | None, skip: int, delimiter: str, types: dict, rows: int):
    """A pyarrow Table of at most ``rows`` rows (0 = all), or None if the C parser refuses the file."""
    import pyarrow as pa
    import pyarrow.csv as pv

    read = pv.ReadOptions(column_names=names, skip_rows=skip, block_size=_BATCH, use_threads=True)
    parse = pv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False)
    convert = pv.ConvertOptions(column_types=types, strings_can_be_null=False)
    try:
        with _stream(path) as src:
            if not rows:
                return pv.read_csv(src, read_options=read, parse_options=parse, convert_options=convert)
            reader = pv.open_csv(src, read_options=read, parse_options=parse, convert_options=convert)
            batches, n = [], 0
            for batch in reader:
                batches.append(batch)
                n += batch.num_rows
                if n >= rows:
                    break
            return pa.Table.from_batches(batches, schema=reader.schema).slice(0, rows)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, OSError, EOFError, UnicodeDecodeError):
        return None


def _numbers(table, name: str) -> np.ndarray | None:
    """A numeric column as float64, or None if it is not numeric, has nulls, or holds a negative or
    non-finite value (the careful reader names which)."""
    import pyarrow as pa

    col = table.column(name)
    if col.null_count or not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        return None
    x = col.to_numpy().astype(np.float64)
    return x if np.isfinite(x).all() and (x >= 0).all() else None


def _timestamps(table, name: str) -> np.ndarray | None:
    import pyarrow as pa

    col = table.column(name)
    if col.null_count:
        return None
    if pa.types.is_integer(col.type):
        ts = col.to_numpy().astype(np.int64)
        return ts if (ts >= 0).all() else None
    return _numbers(table, name)


def _opcodes(table, name: str | None) -> np.ndarray:
    """Read/write codes from a dictionary-encoded text column (a handful of distinct values, so the
    mapping is done on the dictionary, not per row); -1 where the text is neither."""
    import pyarrow as pa

    n = table.num_rows
    col = table.column(name) if name is not None else None
    if col is None or not pa.types.is_dictionary(col.type) or col.null_count:
        return np.full(n, -1, np.int8)
    parts = []
    for chunk in col.chunks:
        codes = np.array([_OPCODE.get(str(v).strip().lower(), -1) for v in chunk.dictionary.to_pylist()] or [-1], np.int8)
        parts.append(codes[chunk.indices.to_numpy(zero_copy_only=False)])
    return np.concatenate(parts) if parts else np.zeros(0, np.int8)


def _frame(path: Path, ts, length, lba, latency, opcode, order: str):
    from training.readers import TraceFrame

    if any(a is None for a in (ts, length, lba, latency)):
        return None
    back = ts[1:] < ts[:-1]
    if back.any() and order == "check":
        return None
    if back.any() and order == "sort":
        perm = np.argsort(ts, kind="stable")
        ts, length, lba, latency, opcode = ts[perm], length[perm], lba[perm], latency[perm], opcode[perm]
    zero = ts.min() if len(ts) else 0
    return TraceFrame.from_columns(ts - zero, length, lba, latency, opcode, source=str(path),
                                   origin=zero.item() if len(ts) else 0)


def _first_line(path: Path) -> str:
    import gzip

    with (gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")) as fh:
        return fh.readline().decode("utf-8", "replace")


def _text_codes():
    import pyarrow as pa

    return pa.dictionary(pa.int32(), pa.string())


def _msr(path: Path, max_lines: int, columns: str, order: str):
    import pyarrow as pa

    header = _first_line(path).startswith("Timestamp,")
    rows = max(max_lines - header, 0) if max_lines else 0
    if max_lines and not rows:
        return None
    t = _read(path, names=list(_MSR), skip=int(header), delimiter=",", rows=rows,
              types={"Timestamp": pa.int64(), "Type": _text_codes(), "Offset": pa.float64(), "Size": pa.float64(),
                     "ResponseTime": pa.float64(), "Hostname": pa.string(), "DiskNumber": pa.string()})
    if t is None or t.num_rows == 0:
        return None
    offset = _numbers(t, "Offset")
    lba = None if offset is None else np.floor(np.floor(offset) / 512)
    return _frame(path, _timestamps(t, "Timestamp"), _numbers(t, "Size"), lba, _numbers(t, "ResponseTime"),
                  _opcodes(t, "Type"), order)


def _csv(path: Path, max_lines: int, columns: str, order: str):
    from training.readers import _parse_mapping, csv_columns

    named = _parse_mapping(columns)[0]["opcode"]
    t = _read(path, names=None, skip=0, delimiter=",", types={named: _text_codes()} if named else {}, rows=max_lines)
    if t is None or t.num_rows == 0 or any(name != name.strip() for name in t.column_names):
        return None
    mapping, missing = csv_columns(columns, t.column_names)
    if missing:
        return None
    latency = _numbers(t, mapping["latency"]) if mapping["latency"] else np.zeros(t.num_rows)
    return _frame(path, _timestamps(t, mapping["timestamp"]), _numbers(t, mapping["length"]), _numbers(t, mapping["lba"]),
                  latency, _opcodes(t, mapping["opcode"]), order)


def _seed_synth(path: Path, max_lines: int, columns: str, order: str):
    names = ["timestamp", "length", "lba", "latency"]
    t = _read(path, names=names, skip=0, delimiter=" ", types={}, rows=max_lines)
    if t is None or t.num_rows == 0:
        return None
    return _frame(path, _timestamps(t, "timestamp"), _numbers(t, "length"), _numbers(t, "lba"), _numbers(t, "latency"),
                  np.full(t.num_rows, -1, np.int8), order)


def fast_read(path: Path, fmt: str, max_lines: int, columns: str, order: str):
    """The frame ``training.readers.read_trace`` would return, or None to take the careful path."""
    reader = {"msr": _msr, "csv": _csv, "seed_synth": _seed_synth}.get(fmt)
    if reader is None or (path.suffix == ".gz" and not _is_gzip(path)):
        return None
    try:
        return reader(path, max_lines, columns, order)
    except (OSError, EOFError, ValueError):  # a truncated or corrupt gzip stream: the careful path says where
        return None
