"""Trace writers: seed text, CSV and Parquet, each written atomically (temp name + rename).

Synthetic rows arrive as float64 chunks in real units. ``seed`` writes them as the seed does
(``" ".join(str(int(v)))``: truncation toward zero); ``csv`` and ``parquet`` round to the
nearest integer and clip at 0, since ticks, bytes and sectors are whole and non-negative.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from training.config import TRACE_COLUMNS
from training.errors import ConfigError
from training.readers import TraceFrame
from training.utils import atomic_output

__all__ = ["WRITERS", "open_writer", "write_trace_frame", "format_rows"]

WRITERS = ("seed", "csv", "parquet")


def format_rows(rows: np.ndarray, fmt: str) -> np.ndarray:
    """The integers a format stores for float rows."""
    if fmt == "seed":
        return np.trunc(rows).astype(np.int64)
    return np.rint(np.maximum(rows, 0.0)).astype(np.int64)


def _text_block(ints: np.ndarray, sep: str) -> str:
    buf = io.StringIO()
    np.savetxt(buf, ints, fmt="%d", delimiter=sep)
    return buf.getvalue()


class _TextWriter:
    def __init__(self, fh, fmt: str) -> None:
        self.fh, self.fmt = fh, fmt
        self.sep = " " if fmt == "seed" else ","
        if fmt == "csv":
            fh.write(",".join(TRACE_COLUMNS) + "\n")

    def write(self, rows: np.ndarray) -> None:
        self.fh.write(_text_block(format_rows(rows, self.fmt), self.sep))


class _ParquetWriter:
    def __init__(self, fh) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        self.schema = pa.schema([(c, pa.int64()) for c in TRACE_COLUMNS])
        self.writer = pq.ParquetWriter(fh, self.schema)

    def write(self, rows: np.ndarray) -> None:
        ints = format_rows(rows, "parquet")
        self.writer.write_table(self.pa.table({c: ints[:, i] for i, c in enumerate(TRACE_COLUMNS)}, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


@contextlib.contextmanager
def open_writer(path: str | os.PathLike[str], fmt: str, *, overwrite: bool = True) -> Iterator[_TextWriter | _ParquetWriter]:
    """A writer with ``write(rows)``; the file appears at ``path`` only when the block exits cleanly."""
    if fmt not in WRITERS:
        raise ConfigError(f"unknown output format {fmt!r}; valid formats: {', '.join(WRITERS)}")
    if fmt == "parquet":
        with atomic_output(path, "wb", overwrite=overwrite) as fh:
            writer = _ParquetWriter(fh)
            yield writer
            writer.close()
    else:
        with atomic_output(path, "w", overwrite=overwrite) as fh:
            yield _TextWriter(fh, fmt)


def write_trace_frame(frame: TraceFrame, path: str | Path, fmt: str = "seed") -> Path:
    """Write a real (not synthetic) frame as a readable trace file: ``seed`` text or ``msr`` CSV.

    Timestamps are written absolute (``origin`` added back), as a trace file has them.
    """
    ts = frame.timestamp + (frame.origin if isinstance(frame.origin, int) else 0)
    op = np.where(frame.opcode == 1, "Write", "Read")
    lines = []
    for t, o, n, lba, lat in zip(ts.tolist(), op.tolist(), frame.length.astype(np.int64).tolist(),
                                 frame.lba.astype(np.int64).tolist(), frame.latency.astype(np.int64).tolist()):
        if fmt == "seed":
            lines.append(f"0 {t} {o} {n} {lba} {lat}\n")
        elif fmt == "msr":
            lines.append(f"{t},sample,0,{o},{lba * 512},{n},{lat}\n")
        else:
            raise ConfigError(f"sample trace format must be seed or msr, but got {fmt!r}")
    with atomic_output(path) as fh:
        fh.writelines(lines)
    return Path(path)
