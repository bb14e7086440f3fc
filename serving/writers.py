"""Trace writers: ``text4``, CSV, Parquet and the published layouts of ``serving.layouts`` (MSR,
MQSim, DiskSim, …), each written atomically (temp name + rename).

Synthetic rows arrive as float64 chunks in real units, in ``ROW_COLUMNS`` order (timestamp,
length, LBA, latency, opcode; NaN where the model has no such column). ``text4`` writes the
reference recipe's four columns as it does (``" ".join(str(int(v)))``: truncation toward zero; a
model without latency writes 0 there, as the format has no way to leave it out; ``seed`` is its
earlier name);
``csv`` and ``parquet`` write the columns the model has (``columns``), rounding to the nearest
integer and clipping at 0, since ticks, bytes and sectors are whole and non-negative, and the
opcode as ``R`` / ``W``.
Text is encoded by pyarrow's C++ CSV writer (~4x faster than ``np.savetxt`` here); ``encode``
is a pure function of the rows, so shards encoded apart concatenate to the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from serving.layouts import LAYOUTS, encode_layout, layout_header, ns_per_tick
from training.config import READ_FORMAT_ALIASES, ROW_COLUMNS, TRACE_COLUMNS, WRITE_FORMAT_ALIASES
from training.errors import ConfigError
from training.readers import TraceFrame
from training.utils import atomic_output

__all__ = ["WRITERS", "SAMPLE_FORMATS", "open_writer", "write_trace_frame", "format_rows", "encode", "header", "out_columns",
           "check_format"]

WRITERS = ("text4", "csv", "parquet", *LAYOUTS)
SAMPLE_FORMATS = ("text6", "msr")  # real-trace layouts write_trace_frame writes
log = logging.getLogger(__name__)


def format_rows(rows: np.ndarray, fmt: str) -> np.ndarray:
    """The integers a format stores for float rows (NaN, a column the model lacks, becomes 0)."""
    rows = np.nan_to_num(rows, nan=0.0)
    if fmt == "text4":
        return np.trunc(rows).astype(np.int64)
    return np.rint(np.maximum(rows, 0.0)).astype(np.int64)


def out_columns(fmt: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns ``fmt`` writes for a model that generates ``columns``."""
    return TRACE_COLUMNS if fmt == "text4" else tuple(c for c in ROW_COLUMNS if c in columns)


def _table(ints: np.ndarray, columns: tuple[str, ...]):
    import pyarrow as pa

    data = {}
    for c in columns:
        col = ints[:, ROW_COLUMNS.index(c)]
        data[c] = pa.DictionaryArray.from_arrays(col.astype(np.int8), pa.array(["R", "W"])) if c == "opcode" else col
    return pa.table(data)


def check_format(fmt: str, columns: tuple[str, ...], units: dict | None, *, warn: bool = True) -> str:
    """The writer's name for ``fmt`` (aliases resolved), or a ``ConfigError`` before anything is
    written: an unknown format, or a published layout for a model whose time unit is unknown. A
    layout needs an opcode: a model without one is written as all reads, and (``warn``) this says so."""
    fmt = WRITE_FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in WRITERS:
        raise ConfigError(f"unknown output format {fmt!r}; valid formats: {', '.join(WRITERS)}")
    if fmt in LAYOUTS:
        per_tick = ns_per_tick(units, fmt)
        if warn and (units or {}).get("timestamp") != "ns":  # an assumed unit: say which
            log.warning("this model's times are %s, taken as %g ns each for %s (train with --time_unit to state "
                        "the unit)", units["timestamp"], per_tick, fmt)
        if warn and "opcode" not in columns:
            log.warning("this model generates no opcode: %s needs one, so every request is written as a read", fmt)
    return fmt


def encode(rows: np.ndarray, fmt: str, columns: tuple[str, ...] = TRACE_COLUMNS, units: dict | None = None) -> bytes:
    """Text bytes of ``rows`` (no header) in ``text4``, ``csv`` or a published layout (which needs the
    model's ``units``)."""
    import pyarrow.csv as pcsv

    if fmt in LAYOUTS:
        return encode_layout(format_rows(rows, fmt), fmt, columns, units)

    buf = io.BytesIO()
    options = pcsv.WriteOptions(include_header=False, delimiter=" " if fmt == "text4" else ",", quoting_style="none")
    pcsv.write_csv(_table(format_rows(rows, fmt), out_columns(fmt, columns)), buf, options)
    return buf.getvalue()


def header(fmt: str, columns: tuple[str, ...] = TRACE_COLUMNS) -> bytes:
    if fmt in LAYOUTS:
        return layout_header(fmt)
    return (",".join(out_columns(fmt, columns)) + "\n").encode() if fmt == "csv" else b""


class _TextWriter:
    def __init__(self, fh, fmt: str, columns: tuple[str, ...], units: dict | None) -> None:
        self.fh, self.fmt, self.columns, self.units = fh, fmt, columns, units
        fh.write(header(fmt, columns))

    def write(self, rows: np.ndarray) -> None:
        self.fh.write(encode(rows, self.fmt, self.columns, self.units))


class _ParquetWriter:
    """Parquet in row groups of a fixed size, so the bytes do not depend on how rows arrive."""

    ROW_GROUP = 1 << 17

    def __init__(self, fh, columns: tuple[str, ...], units: dict | None = None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        from training.parquet_reader import UNITS_KEY

        self.columns = out_columns("parquet", columns)
        self.schema = pa.schema([(c, pa.dictionary(pa.int8(), pa.string()) if c == "opcode" else pa.int64())
                                 for c in self.columns], metadata={UNITS_KEY: json.dumps(units)} if units else None)
        # no dictionary encoding: synthetic integers rarely repeat, and it is 4x slower (measured)
        self.writer = pq.ParquetWriter(fh, self.schema, use_dictionary=False, compression="snappy")
        self.pending: list[np.ndarray] = []
        self.count = 0

    def write(self, rows: np.ndarray) -> None:
        self.pending.append(format_rows(rows, "parquet"))
        self.count += len(rows)
        while self.count >= self.ROW_GROUP:
            self._flush(self.ROW_GROUP)

    def _flush(self, n: int) -> None:
        ints = np.concatenate(self.pending)
        self.writer.write_table(_table(ints[:n], self.columns).cast(self.schema), row_group_size=n)
        rest = ints[n:]
        self.pending, self.count = ([rest] if len(rest) else []), len(rest)

    def close(self) -> None:
        if self.count:
            self._flush(self.count)
        self.writer.close()


@contextlib.contextmanager
def open_writer(path: str | os.PathLike[str], fmt: str, *, overwrite: bool = True,
                columns: tuple[str, ...] = TRACE_COLUMNS, units: dict | None = None,
                warn: bool = True) -> Iterator[_TextWriter | _ParquetWriter]:
    """A writer with ``write(rows)`` for a model that generates ``columns``; the file appears at
    ``path`` only when the block exits cleanly. ``units`` (the model's training units,
    ``training.units``) go into a Parquet file's metadata, so reading it back knows them. ``warn``:
    ``check_format``'s warnings (a caller that checked the format already passes False)."""
    fmt = check_format(fmt, columns, units, warn=warn)
    with atomic_output(path, "wb", overwrite=overwrite) as fh:
        if fmt == "parquet":
            writer = _ParquetWriter(fh, columns, units)
            yield writer
            writer.close()
        else:
            yield _TextWriter(fh, fmt, columns, units)


def write_trace_frame(frame: TraceFrame, path: str | Path, fmt: str = "text6", *, overwrite: bool = True) -> Path:
    """Write a real (not synthetic) frame as a readable trace file: ``text6`` or ``msr`` CSV.

    Timestamps are written absolute (``origin`` added back), as a trace file has them.
    """
    fmt = READ_FORMAT_ALIASES.get(fmt, fmt)  # "seed": the layout the text6 reader reads
    ts = frame.timestamp + (frame.origin if isinstance(frame.origin, int) else 0)
    op = np.where(frame.opcode == 1, "Write", "Read")
    lines = []
    for t, o, n, lba, lat in zip(ts.tolist(), op.tolist(), frame.length.astype(np.int64).tolist(),
                                 frame.lba.astype(np.int64).tolist(), frame.latency.astype(np.int64).tolist()):
        if fmt == "text6":
            lines.append(f"0 {t} {o} {n} {lba} {lat}\n")
        elif fmt == "msr":
            lines.append(f"{t},sample,0,{o},{lba * 512},{n},{lat}\n")
        else:
            raise ConfigError(f"sample trace format must be {' or '.join(SAMPLE_FORMATS)}, but got {fmt!r}")
    with atomic_output(path, overwrite=overwrite) as fh:
        fh.writelines(lines)
    return Path(path)
