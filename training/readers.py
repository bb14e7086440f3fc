"""Trace readers: one registry of ``_read_<format>(path, max_lines, columns)`` functions.

Every reader returns a ``TraceFrame`` with the same columns: integer timestamps relative to the
first request (int64, never float32: 18-digit Windows FILETIME ticks collapse to a handful of
values in float32, which is the reference recipe's bug: docs/REFERENCE.md R1), float64 length / LBA /
latency, and an int8 opcode (0 read, 1 write, -1 unknown). Lines the recipe skips (``text6``: fewer
than 6 fields) are skipped
and counted; every other malformed value is a ``DataError`` naming ``file:line:column`` and the
text.
Timestamps must not go backwards (equal ones are fine: real traces have them — MSR web0's first
100k requests hold 972): a row earlier than the one before it is a ``DataError`` naming both lines,
unless the caller asks for the rows to be sorted (``sort=True``, ``--sort_by_time``).
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.column_map import column_map, has_header, split_fields
from training.compressed import DECOMPRESS_ERRORS, open_binary
from training.config import READ_FORMAT_ALIASES
from training.errors import DataError
from training.units import CLOCKS, UNSTATED, file_units, to_ns

__all__ = ["TraceFrame", "READERS", "read_trace", "reader_names", "time_order"]

_OPCODES = {"read": 0, "r": 0, "write": 1, "w": 1}


@dataclass
class TraceFrame:
    """A block trace in memory, one array per column, all the same length."""

    timestamp: np.ndarray  # int64 ticks relative to ``origin`` (float64 if the source is fractional)
    length: np.ndarray  # float64, bytes (or sectors: whatever the source uses)
    lba: np.ndarray  # float64, sectors
    latency: np.ndarray  # float64, the source's latency unit
    opcode: np.ndarray  # int8: 0 read, 1 write, -1 unknown
    source: str = ""
    origin: int | float = 0  # absolute timestamp subtracted from ``timestamp``
    skipped: int = 0  # lines the format's reader skips (text6: short ones), reported to the user
    meta: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.timestamp)

    def values(self) -> np.ndarray:
        """``(n, 4)`` float64 matrix of timestamp, length, LBA, latency (exact below 2**53)."""
        return np.column_stack([self.timestamp.astype(np.float64), self.length, self.lba, self.latency])

    def slice(self, start: int, stop: int) -> TraceFrame:
        """Rows ``[start, stop)`` as a new frame with the same origin."""
        return TraceFrame(self.timestamp[start:stop], self.length[start:stop], self.lba[start:stop],
                          self.latency[start:stop], self.opcode[start:stop], self.source, self.origin,
                          0, dict(self.meta))

    def take(self, keep: np.ndarray) -> TraceFrame:
        """The rows where ``keep`` is true, as a new frame with the same origin and units."""
        return TraceFrame(self.timestamp[keep], self.length[keep], self.lba[keep], self.latency[keep],
                          self.opcode[keep], self.source, self.origin, self.skipped, dict(self.meta))

    @classmethod
    def from_columns(cls, timestamp: np.ndarray, length: np.ndarray, lba: np.ndarray,
                     latency: np.ndarray, opcode: np.ndarray | None = None, *, source: str = "",
                     origin: int | float = 0) -> TraceFrame:
        """Build a frame from arrays, casting each column to its documented dtype (the arrays
        themselves where they have it: a 10M-row column copy is ~0.1 s and 80 MB)."""
        ts = np.asarray(timestamp)
        ts = ts.astype(np.int64 if np.issubdtype(ts.dtype, np.integer) else np.float64, copy=False)
        n = len(ts)
        op = np.full(n, -1, np.int8) if opcode is None else np.asarray(opcode, dtype=np.int8)
        return cls(ts, np.asarray(length, np.float64), np.asarray(lba, np.float64),
                   np.asarray(latency, np.float64), op, source, origin)


Reader = Callable[[Path, int, str], "_Rows"]
READERS: dict[str, Reader] = {}


def _register(name: str) -> Callable[[Reader], Reader]:
    def deco(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn
    return deco


# formats read outside this module's per-line registry (their own modules)
_OTHER = ("oracle_general", "vscsi", "parquet")
# what a format's reader skips and counts (``TraceFrame.skipped``), for ``ganflow inspect``
_SKIPPED = {"text6": "lines with fewer than 6 fields (the reference recipe's rule)", "csv": "blank lines",
            "text": "blank or # lines", "text4": "blank lines"}
# the time unit a format's files are in, where the format says (training.units converts to ns)
SOURCE_TIME_UNIT = {"msr": "100ns", "oracle_general": "s", "vscsi": "us"}


def time_order(ts: np.ndarray, order: str, where) -> np.ndarray | slice:
    """The rows' order: ``check`` raises a ``DataError`` ``where(i)`` names for the first row ``i``
    earlier than the one before it; ``sort`` sorts (stable); ``keep`` keeps the file's order."""
    back = np.flatnonzero(ts[1:] < ts[:-1])
    if back.size and order == "check":
        raise DataError(f"{where(int(back[0]) + 1)}; the trace must be in time order (sort it, or pass --sort_by_time)")
    return np.argsort(ts, kind="stable") if back.size and order == "sort" else slice(None)


def reader_names() -> list[str]:
    """The registered format names, for CLI choice lists and error messages."""
    from training.published_formats import PUBLISHED

    return sorted([*READERS, *PUBLISHED, *_OTHER])


def read_trace(path: str | Path, fmt: str = "text6", *, max_lines: int = 0, columns: str = "",
               sort: bool = False, fast: bool = True, volume: str = "", time_unit: str = "") -> TraceFrame:
    """Read ``path`` with the reader registered as ``fmt``, in the canonical units of ``training.units``.

    Args:
        path: the trace file, plain or gzip / zstd / xz (told by its magic bytes, whatever the name).
        fmt: a name from ``reader_names()`` (or an earlier spelling in ``READ_FORMAT_ALIASES``).
        max_lines: read at most this many lines (binary formats: records) of the file (0 = all), as
            the reference recipe's ``--max_lines``.
        columns: for ``csv``, ``text`` and ``parquet``, a column map such as
            ``timestamp=Time,length=Size`` (by header name) or ``timestamp=1,length=4`` (by 1-based
            position).
        sort: sort the rows by timestamp (stable) instead of refusing a trace out of time order;
            ``text4`` (the reference recipe's unordered output) keeps its file order unless sorted.
        fast: parse text with pyarrow's C parser first (``training.fast_readers``); anything
            unusual falls back to the careful per-line reader, which names the line. ``False``
            always reads line by line.
        volume: for a format with volumes, the volumes to keep (comma-separated ids, or ``all``);
            required when the trace has several. An MSR volume is ``Hostname_DiskNumber``
            (``web_0``), as the published files are named.
        time_unit: the unit of the file's timestamps and latency (``training.units.TIME_UNITS``),
            for formats whose files do not say (text6, text4, csv, text, parquet not written by
            ganflow): converted to ns. Empty: kept as read. Naming a unit other than a format's own
            is an error.
    """
    from training.published_formats import PUBLISHED

    fmt = READ_FORMAT_ALIASES.get(fmt, fmt)
    if fmt not in reader_names():
        raise DataError(f"unknown trace format {fmt!r}; valid formats: {', '.join(reader_names())}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    own = PUBLISHED[fmt].time_unit if fmt in PUBLISHED else SOURCE_TIME_UNIT.get(fmt)
    if time_unit and own and time_unit != own:
        raise DataError(f"--time_unit {time_unit}: a {fmt} trace's times are in {own}, not {time_unit}")
    if volume and fmt not in PUBLISHED and fmt != "msr":
        raise DataError(f"--volume {volume}: format {fmt!r} has no volume column (formats with one: "
                        f"{', '.join(sorted([*PUBLISHED, 'msr']))})")
    order = "sort" if sort else "keep" if fmt == "text4" else "check"
    frame = _read_any(path, fmt, max_lines, columns, order, fast, volume, time_unit)
    frame = _select_volumes(frame, path, fmt, volume)
    if frame.skipped:
        frame.meta.setdefault("skipped_why", _SKIPPED.get(fmt, "lines"))
    if len(frame) == 0:
        suffix = Path(path).suffix.lstrip(".").lower()
        hint = f"; a .{suffix} file: --format {suffix}?" if suffix != fmt and suffix in reader_names() else ""
        raise DataError(f"{path}: no trace rows found (format {fmt!r}, {frame.skipped} lines skipped"
                        f"{'' if fmt != 'text6' else ': the text6 format needs at least 6 whitespace fields a line'}"
                        f"{hint})")
    if "units" not in frame.meta:  # the readers of formats with a stated unit convert their own
        unit = SOURCE_TIME_UNIT.get(fmt) or time_unit
        if unit:
            to_ns(frame, unit)
        else:
            frame.meta["units"] = file_units(*UNSTATED.get(fmt, ()))
    if fmt in CLOCKS:  # whose clock ``origin`` is on (a layout on another converts it: serving.layouts)
        frame.meta["units"]["clock"] = CLOCKS[fmt]
    return frame


def _read_any(path: Path, fmt: str, max_lines: int, columns: str, order: str, fast: bool, volume: str,
              time_unit: str) -> TraceFrame:
    from training.published_formats import PUBLISHED, read_oracle_general, read_published

    if fmt in PUBLISHED:
        return read_published(path, fmt, max_lines=max_lines, volume=volume, order=order, fast=fast)
    if fmt == "oracle_general":
        return read_oracle_general(path, max_lines=max_lines, order=order)
    if fmt == "vscsi":
        from training.vscsi import read_vscsi

        return read_vscsi(path, max_lines=max_lines, order=order)
    if fmt == "parquet":
        from training.parquet_reader import read_parquet

        return read_parquet(path, max_lines=max_lines, columns=columns, order=order, time_unit=time_unit)
    frame = None
    if fast:
        from training.fast_readers import fast_read

        frame = fast_read(path, fmt, max_lines, columns, order)
    return frame if frame is not None else READERS[fmt](path, max_lines, columns).frame(order=order)


def _select_volumes(frame: TraceFrame, path: Path, fmt: str, volume: str) -> TraceFrame:
    """MSR: the rows of the chosen ``Hostname_DiskNumber`` volumes, timed from their first request."""
    codes = frame.meta.pop("volume_codes", None)
    if codes is None:
        return frame
    from training.published_formats import select_volumes

    keep, frame.meta["volumes"] = select_volumes(codes, frame.meta.pop("volume_names"), path, fmt, volume)
    if keep.all():
        return frame
    frame = frame.take(keep)
    shift = frame.timestamp.min() if len(frame) else frame.timestamp.dtype.type(0)
    frame.timestamp, frame.origin = frame.timestamp - shift, frame.origin + shift.item()
    return frame


def _lines(path: Path, max_lines: int) -> Iterator[tuple[int, str]]:
    """(1-based line number, text) for up to ``max_lines`` lines of a plain, gzip, zstd or xz file.
    Each line is decoded on its own, so a decoding error names its real line; a corrupt compressed
    stream is a DataError too."""
    lineno = 0
    try:
        with open_binary(path) as fh:
            for lineno, raw in enumerate(fh, 1):
                if max_lines and lineno > max_lines:
                    return
                yield lineno, raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError.at(path, lineno, None, f"not UTF-8 text (byte {exc.object[exc.start]:#04x} "
                                               f"at offset {exc.start} of the line)") from None
    except (gzip.BadGzipFile, zlib.error, *DECOMPRESS_ERRORS) as exc:
        raise DataError.at(path, lineno + 1, None, f"cannot read the file ({type(exc).__name__}: {exc})") from None


def parse_number(path: Path, text: str, lineno: int, col: int, name: str) -> float:
    """A finite, non-negative number, or a ``DataError`` naming ``path:lineno:col`` and the text."""
    try:
        value = float(text)
    except ValueError:
        raise DataError.at(path, lineno, col, f"{name}: cannot parse {text!r} as a number") from None
    if not math.isfinite(value):
        raise DataError.at(path, lineno, col, f"{name}: {text!r} is not a finite number")
    if value < 0:
        raise DataError.at(path, lineno, col, f"{name}: negative value {text!r}")
    return value


class _Rows:
    """Accumulates parsed rows with per-value checks that name ``file:line:column``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.ts: list[int | float] = []
        self.cols: tuple[list[float], list[float], list[float]] = ([], [], [])
        self.op: list[int] = []
        self.lines: list[int] = []
        self.ts_column = 1
        self.skipped = 0
        self.volumes: list[str] = []  # one per row, for formats with volumes (msr)

    def number(self, text: str, lineno: int, col: int, name: str) -> float:
        return parse_number(self.path, text, lineno, col, name)

    def add(self, lineno: int, fields: list[str], cols: tuple[int, int, int, int], op: int = -1) -> None:
        c_ts, c_len, c_lba, c_lat = cols
        text = fields[c_ts]
        try:
            ts: int | float = int(text)
        except ValueError:
            ts = self.number(text, lineno, c_ts + 1, "timestamp")
        if ts < 0:
            raise DataError.at(self.path, lineno, c_ts + 1, f"timestamp: negative value {text!r}")
        self.ts.append(ts)
        for dst, c, name in zip(self.cols, (c_len, c_lba, c_lat), ("length", "lba", "latency")):
            dst.append(self.number(fields[c], lineno, c + 1, name))
        self.op.append(op)
        self.lines.append(lineno)
        self.ts_column = c_ts + 1

    def _timestamps(self) -> np.ndarray:
        if all(isinstance(t, int) for t in self.ts):
            try:
                return np.array(self.ts, dtype=np.int64)
            except OverflowError:
                i = next(i for i, t in enumerate(self.ts) if not -2**63 <= t < 2**63)
                raise DataError.at(self.path, self.lines[i], self.ts_column,
                                   f"timestamp {self.ts[i]} does not fit in 64 bits") from None
        return np.array(self.ts, dtype=np.float64)

    def frame(self, *, order: str = "check") -> TraceFrame:
        """The rows as a frame, timestamps relative to the earliest. ``order``: ``check`` refuses a
        timestamp earlier than its predecessor (naming both lines); ``sort`` sorts (stable);
        ``keep`` keeps the file order."""
        ts = self._timestamps()
        columns = [np.asarray(c, np.float64) for c in self.cols]
        op = np.array(self.op, np.int8)
        back = np.flatnonzero(ts[1:] < ts[:-1])
        if back.size and order == "check":
            i = int(back[0]) + 1
            raise DataError.at(self.path, self.lines[i], self.ts_column,
                               f"timestamp {self.ts[i]} is earlier than {self.ts[i - 1]} on line {self.lines[i - 1]}; "
                               "the trace must be in time order (sort it, or pass --sort_by_time)")
        perm = np.argsort(ts, kind="stable") if back.size and order == "sort" else slice(None)
        ts, op, columns = ts[perm], op[perm], [c[perm] for c in columns]
        zero = ts.min() if len(ts) else 0
        frame = TraceFrame.from_columns(ts - zero, *columns, op, source=str(self.path),
                                        origin=zero.item() if len(ts) else 0)
        frame.skipped = self.skipped
        if self.volumes:
            names, codes = np.unique(np.array(self.volumes, dtype=str), return_inverse=True)
            frame.meta["volume_codes"], frame.meta["volume_names"] = codes[perm], list(names)
        return frame


def _opcode(text: str) -> int:
    return _OPCODES.get(text.strip().lower(), -1)


@_register("text6")
def _read_text6(path: Path, max_lines: int, columns: str = "") -> _Rows:
    """The reference recipe's input text (docs/REFERENCE.md): whitespace fields, columns 1,3,4,5 =
    timestamp, length, LBA, latency (0-based); column 2 is read as the opcode when it says
    Read/Write. Lines with fewer than 6 fields are skipped, as the recipe does, and counted in
    ``TraceFrame.skipped``."""
    rows = _Rows(path)
    for lineno, text in _lines(path, max_lines):
        fields = text.split()
        if len(fields) < 6:
            rows.skipped += 1
            continue
        rows.add(lineno, fields, (1, 3, 4, 5), _opcode(fields[2]))
    return rows


@_register("text4")
def _read_text4(path: Path, max_lines: int, columns: str = "") -> _Rows:
    """The reference recipe's synthetic output: 4 whitespace integers per line (timestamp, length,
    LBA, latency). Its rows are not in time order: they are kept in file order (``sort=True`` sorts them)
    and timestamps are made relative to the minimum."""
    rows = _Rows(path)
    for lineno, text in _lines(path, max_lines):
        fields = text.split()
        if not fields:
            rows.skipped += 1
            continue
        if len(fields) != 4:
            raise DataError.at(path, lineno, None, f"expected 4 fields, found {len(fields)}: {text.strip()[:80]!r}")
        rows.add(lineno, fields, (0, 1, 2, 3))
    return rows


@_register("msr")
def _read_msr(path: Path, max_lines: int, columns: str = "") -> _Rows:
    """MSR Cambridge CSV: ``Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime``.
    LBA = Offset // 512; time and latency are 100-ns ticks (converted to ns by ``read_trace``);
    opcode kept; each ``Hostname_DiskNumber`` is a volume."""
    rows = _Rows(path)
    for lineno, text in _lines(path, max_lines):
        fields = text.strip().split(",")
        if fields == [""]:
            rows.skipped += 1
            continue
        if len(fields) != 7:
            raise DataError.at(path, lineno, None, f"expected 7 comma-separated fields, found {len(fields)}: {text.strip()[:80]!r}")
        if lineno == 1 and fields[0] == "Timestamp":
            continue
        offset = rows.number(fields[4], lineno, 5, "offset")
        rows.add(lineno, [fields[0], fields[5], str(int(offset) // 512), fields[6]], (0, 1, 2, 3), _opcode(fields[3]))
        rows.volumes.append(f"{fields[1].strip()}_{fields[2].strip()}")
    return rows


def _read_mapped(path: Path, max_lines: int, columns: str, delimiter: str | None) -> _Rows:
    if delimiter is None and not columns.strip():
        raise DataError(f"{path}: the text format needs a column map, by position (--columns timestamp=1,length=2,"
                        "lba=3[,latency=N][,opcode=N]) or by the names of a header line")
    rows = _Rows(path)
    lines = _lines(path, 0)
    if delimiter == ",":  # quoting rules: the csv module; numbers name their line
        reader = csv.reader(text for _, text in lines)
        records = ((reader.line_num, fields) for fields in reader)
    else:
        records = ((lineno, split_fields(text, None)) for lineno, text in lines)
    try:
        first = next(records, None)
        if first is None:
            return rows
        header = [h.strip() for h in first[1]] if has_header(first[1], columns) else None
        where, how = ("header " + str(header), "set --columns") if header is not None else (
            "no header", "map every column by position, e.g. --columns timestamp=1,length=2,lba=3")
        idx, missing = column_map(columns, header)
        if missing:
            raise DataError(f"{path}:1: {where} lacks {', '.join(missing)} ({how})")
        # a missing latency reads as a "0" field appended to each line
        width = max(i for i in idx.values() if i is not None) + 1
        cols = tuple(idx[k] if idx[k] is not None else -1 for k in ("timestamp", "length", "lba", "latency"))
        last = max_lines + (header is not None) if max_lines else 0  # max_lines counts data lines
        for lineno, fields in _chain(first, header, records):
            if last and lineno > last:
                break
            if not fields or (delimiter is None and fields[0].startswith("#")):
                rows.skipped += 1
                continue
            if header is not None and delimiter == "," and len(fields) != len(header):
                raise DataError.at(path, lineno, None, f"expected {len(header)} fields, found {len(fields)}")
            if len(fields) < width:
                raise DataError.at(path, lineno, None, f"expected at least {width} fields (the --columns map), "
                                                       f"found {len(fields)}")
            rows.add(lineno, fields + ["0"], cols, _opcode(fields[idx["opcode"]]) if idx["opcode"] is not None else -1)
    except csv.Error as exc:  # e.g. a carriage return inside a field
        raise DataError.at(path, reader.line_num, None, f"not a CSV line: {exc}") from None
    return rows


def _chain(first, header, records):
    if header is None:
        yield first
    yield from records


@_register("csv")
def _read_csv(path: Path, max_lines: int, columns: str = "") -> _Rows:
    """A generic CSV. ``columns`` maps ours to the file's header names
    (``timestamp=Time,length=Size,lba=Sector,latency=RT,opcode=Op``; unmapped names are taken
    literally) or to 1-based positions (``timestamp=1,length=4,lba=3``: then a first line whose
    timestamp is not a number is a header and skipped). ``latency`` and ``opcode`` are optional: a
    file without them reads with latency 0 and opcode unknown."""
    return _read_mapped(path, max_lines, columns, ",")


@_register("text")
def _read_text(path: Path, max_lines: int, columns: str = "") -> _Rows:
    """Whitespace-separated text in any column order, mapped by position (``--columns
    timestamp=1,lba=3,length=4,opcode=2``) or by the names of a header line. Blank lines and lines
    starting with ``#`` are skipped; a line shorter than the map is an error."""
    return _read_mapped(path, max_lines, columns, None)
