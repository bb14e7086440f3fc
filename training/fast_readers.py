"""The fast path of the text readers: pyarrow's C CSV parser, then vectorised checks.

``fast_read`` returns the same ``TraceFrame`` as the careful per-line readers of
``training.readers`` for a well-formed file, or None as soon as anything is unusual (a parse
error, a ragged or blank line, a negative or non-finite value, time going backwards where that
is refused, an unknown header): the careful reader then runs and names the exact
``file:line:column``. So every malformed-input message stays the careful reader's, and a clean
file costs what the C parser costs. ``text6`` (variable-width whitespace lines, short ones
skipped) always takes the careful path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from training.compressed import DECOMPRESS_ERRORS, arrow_stream, open_binary

__all__ = ["fast_read", "FAST_FORMATS"]

FAST_FORMATS = ("msr", "csv", "text", "text4")
_MSR = ("Timestamp", "Hostname", "DiskNumber", "Type", "Offset", "Size", "ResponseTime")
_BATCH = 1 << 20
_PIECE = 16 << 20  # bytes of text per read_csv call on a whole file (bounds memory; training.fast_readers._pieces)
_OPCODE = {"read": 0, "r": 0, "write": 1, "w": 1}  # as training.readers._OPCODES


def _read(path: Path, *, names: list[str] | None, skip: int, delimiter: str, types: dict, rows: int,
          convert) -> dict[str, np.ndarray] | None:
    """Parse at most ``rows`` rows (0 = all); ``convert(table)`` turns each batch into NumPy columns
    (a dict) or None. A whole file is parsed a piece at a time (``_pieces``), each batch released
    once its columns are copied into place (``_Columns``): peak memory is the parsed columns plus
    one piece's text and table, not the file's text and the whole Arrow table beside them
    (bench/read_speed.py). None if the C parser or ``convert`` refuses anything, or there are no rows."""
    import pyarrow as pa
    import pyarrow.csv as pv

    read = pv.ReadOptions(column_names=names, skip_rows=skip, block_size=_BATCH, use_threads=True)
    parse = pv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False)
    options = pv.ConvertOptions(column_types=types, strings_can_be_null=False)
    out = _Columns(rows or _estimate_rows(path))
    try:
        with arrow_stream(path) as src:
            if rows:  # the start of a file: stream, stop early
                batches = pv.open_csv(src, read_options=read, parse_options=parse, convert_options=options)
            else:  # the whole file: the multi-threaded reader, a piece of text at a time
                batches = _pieces(src, read, parse, options)
            for batch in batches:
                if rows and out.n + batch.num_rows > rows:
                    batch = batch.slice(0, rows - out.n)
                got = convert(pa.Table.from_batches([batch]))
                del batch
                if got is None:
                    return None
                out.add(got)
                del got
                pa.default_memory_pool().release_unused()  # give the piece's Arrow buffers back now
                if rows and out.n >= rows:
                    break
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, *DECOMPRESS_ERRORS):
        return None
    return out.columns() if out.n else None


def _estimate_rows(path: Path) -> int:
    """Room for a plain file's rows, generously (short MSR lines are ~40 bytes); compressed: a start."""
    from training.compressed import codec

    return max(Path(path).stat().st_size // 24, 1 << 16) if codec(path) is None else 1 << 22


class _Columns:
    """The parsed columns, each batch copied straight into place: one large allocation per column
    (pages are only taken as rows arrive, so room to spare costs address space, not memory), grown
    by half when full, and no list of per-batch arrays to join at the end — which took one more
    copy and, through the C allocator's heap, left ~1x the columns of freed memory in the
    process (2.7x the columns at peak for a 10M-row MSR trace, 1.8x without)."""

    def __init__(self, room: int) -> None:
        self.room, self.n, self.cols = room, 0, {}

    def add(self, got: dict[str, np.ndarray]) -> None:
        k = len(next(iter(got.values())))
        if self.n + k > self.room:
            self.room = max(self.n + k, self.room + self.room // 2)
            self.cols = {key: _grown(col, self.n, self.room) for key, col in self.cols.items()}
        for key, value in got.items():
            col = self.cols.get(key)
            if col is None or np.result_type(col, value) != col.dtype:  # new, or (inferred) ints then floats
                dtype = value.dtype if col is None else np.result_type(col, value)
                self.cols[key] = col = _grown(col, self.n, self.room, dtype)
            col[self.n:self.n + k] = value
        self.n += k

    def columns(self) -> dict[str, np.ndarray]:
        return {key: col[:self.n] for key, col in self.cols.items()}


def _grown(col: np.ndarray | None, n: int, room: int, dtype=None) -> np.ndarray:
    new = np.empty(room, col.dtype if dtype is None else dtype)
    if col is not None:
        new[:n] = col[:n]
    return new


def _pieces(src, read, parse, options):
    """The record batches of a whole file, parsed by ``pyarrow.csv.read_csv`` (multi-threaded, ~2x
    the streaming reader here) on ``_PIECE`` bytes of text at a time, cut at line ends: memory stays
    one piece of text and its table, not the file's. The text goes into one reused buffer (the
    unfinished last line moved to its front), so no piece is copied twice. Each batch is let go
    once the caller has it."""
    import pyarrow as pa
    import pyarrow.csv as pv

    buf = bytearray(_PIECE)
    have, first = 0, True
    while True:
        if have == len(buf):  # one line longer than the buffer: make room
            buf.extend(bytes(len(buf)))
        view = memoryview(buf)
        got = src.readinto(view[have:])
        more, end = got > 0, have + got
        if end == 0:
            return
        cut = buf.rfind(b"\n", 0, end) + 1 if more else end
        if cut == 0:  # no line end yet: read more
            del view  # (a buffer with a view on it cannot grow)
            have = end
            continue
        if not first:
            read = pv.ReadOptions(column_names=read.column_names, block_size=_BATCH, use_threads=True)
        batches = pv.read_csv(pa.py_buffer(view[:cut]), read_options=read, parse_options=parse,
                              convert_options=options).to_batches()  # parsed into Arrow's own buffers
        first = False
        view[:end - cut] = view[cut:end]
        del view
        have = end - cut
        batches.reverse()
        while batches:
            yield batches.pop()
        if not more:
            return


def _header_names(path: Path) -> list[str] | None:
    """The column names pyarrow reads from a CSV's first line (quotes and all)."""
    import pyarrow as pa
    import pyarrow.csv as pv

    try:
        with arrow_stream(path) as src:
            return pv.open_csv(src, read_options=pv.ReadOptions(block_size=_BATCH)).schema.names
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError, *DECOMPRESS_ERRORS):
        return None


def _checked(columns: dict) -> dict | None:
    return None if any(v is None for v in columns.values()) else columns


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


def _dictionary(column, names: dict[str, int] | None = None) -> tuple[np.ndarray, list[str]]:
    """A dictionary-encoded text column as (code per row, the distinct texts), one chunk at a time;
    ``names`` (text -> code) carries the codes across the batches of one file."""
    names = {} if names is None else names
    parts = []
    for chunk in column.chunks:
        local = np.array([names.setdefault(str(v), len(names)) for v in chunk.dictionary.to_pylist()] or [0], np.int32)
        parts.append(local[chunk.indices.to_numpy(zero_copy_only=False)])
    return (np.concatenate(parts) if parts else np.zeros(0, np.int32)), list(names)


def _frame(path: Path, ts, length, lba, latency, opcode, order: str, volumes=None):
    """The frame, or None; ``volumes`` = (code per row, names) goes to ``meta`` for ``read_trace``."""
    from training.readers import TraceFrame

    if any(a is None for a in (ts, length, lba, latency)):
        return None
    back = ts[1:] < ts[:-1]
    if back.any() and order == "check":
        return None
    perm = np.argsort(ts, kind="stable") if back.any() and order == "sort" else slice(None)
    ts, length, lba, latency, opcode = ts[perm], length[perm], lba[perm], latency[perm], opcode[perm]
    zero = ts.min() if len(ts) else ts.dtype.type(0)
    ts = ts - zero if isinstance(perm, np.ndarray) else np.subtract(ts, zero, out=ts)  # ts is ours: in place
    frame = TraceFrame.from_columns(ts, length, lba, latency, opcode, source=str(path), origin=zero.item())
    if volumes is not None:
        frame.meta["volume_codes"], frame.meta["volume_names"] = volumes[0][perm], volumes[1]
    return frame


def _first_line(path: Path) -> str:
    with open_binary(path) as fh:
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
    hosts: dict[str, int] = {}
    disks: dict[str, int] = {}

    def convert(t):
        offset = _numbers(t, "Offset")
        return _checked({"ts": _timestamps(t, "Timestamp"), "length": _numbers(t, "Size"),
                         "lba": None if offset is None else np.floor(np.floor(offset) / 512),
                         "latency": _numbers(t, "ResponseTime"), "opcode": _opcodes(t, "Type"),
                         "host": _dictionary(t.column("Hostname"), hosts)[0],
                         "disk": _dictionary(t.column("DiskNumber"), disks)[0]})

    c = _read(path, names=list(_MSR), skip=int(header), delimiter=",", rows=rows, convert=convert,
              types={"Timestamp": pa.int64(), "Type": _text_codes(), "Offset": pa.float64(), "Size": pa.float64(),
                     "ResponseTime": pa.float64(), "Hostname": _text_codes(), "DiskNumber": _text_codes()})
    if c is None:
        return None
    code = c.pop("host")
    code *= len(disks)
    code += c.pop("disk")
    volumes = (code, [f"{h.strip()}_{d.strip()}" for h in hosts for d in disks])
    return _frame(path, c["ts"], c["length"], c["lba"], c["latency"], c["opcode"], order, volumes)


def _mapped(path: Path, max_lines: int, columns: str, order: str, delimiter: str | None):
    """``csv`` (``delimiter=","``) or ``text`` (whitespace: one space or one tab between fields)."""
    from training.column_map import column_map, has_header, split_fields

    line = _first_line(path)
    if delimiter is None:  # pyarrow's parser takes one delimiter character
        delimiter = "\t" if "\t" in line and " " not in line.strip() else " "
    fields = split_fields(line, delimiter)
    header = [f.strip() for f in fields] if has_header(fields, columns) else None
    idx, missing = column_map(columns, header)
    if missing or (header is not None and len(set(header)) != len(header)):
        return None
    if max(i for i in idx.values() if i is not None) >= len(fields):
        return None
    if header is not None and delimiter == "," and _header_names(path) != header:
        return None  # quoted or padded header names: the csv module's reading decides
    names = [f"c{i}" for i in range(len(fields))]
    col = {k: (names[i] if i is not None else None) for k, i in idx.items()}

    def convert(t):
        return _checked({"ts": _timestamps(t, col["timestamp"]), "length": _numbers(t, col["length"]),
                         "lba": _numbers(t, col["lba"]),
                         "latency": _numbers(t, col["latency"]) if col["latency"] else np.zeros(t.num_rows),
                         "opcode": _opcodes(t, col["opcode"])})

    c = _read(path, names=names, skip=int(header is not None), delimiter=delimiter, rows=max_lines, convert=convert,
              types={col["opcode"]: _text_codes()} if col["opcode"] else {})
    if c is None:
        return None
    return _frame(path, c["ts"], c["length"], c["lba"], c["latency"], c["opcode"], order)


def _text4(path: Path, max_lines: int, columns: str, order: str):
    def convert(t):
        return _checked({"ts": _timestamps(t, "timestamp"), "length": _numbers(t, "length"),
                         "lba": _numbers(t, "lba"), "latency": _numbers(t, "latency")})

    c = _read(path, names=["timestamp", "length", "lba", "latency"], skip=0, delimiter=" ", types={}, rows=max_lines,
              convert=convert)
    if c is None:
        return None
    return _frame(path, c["ts"], c["length"], c["lba"], c["latency"], np.full(len(c["ts"]), -1, np.int8), order)


def fast_read(path: Path, fmt: str, max_lines: int, columns: str, order: str):
    """The frame ``training.readers.read_trace`` would return, or None to take the careful path."""
    reader = {"msr": _msr, "text4": _text4}.get(fmt)
    if reader is None and fmt not in ("csv", "text"):
        return None
    try:
        if reader is None:
            return _mapped(path, max_lines, columns, order, "," if fmt == "csv" else None)
        return reader(path, max_lines, columns, order)
    except DECOMPRESS_ERRORS:  # a truncated or corrupt gzip stream: the careful path says where
        return None
