"""The pyarrow fast path gives exactly the careful reader's frame, and hands every unusual file to
the careful reader so that its file:line:column messages stay the same."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from training.errors import DataError
from training.fast_readers import fast_read
from training.readers import read_trace

FILETIME = 128166372003061629
MSR = "".join(f"{FILETIME + 37 * i},web,0,{'Read' if i % 3 else 'Write'},{4096 * (i % 50) + 512},"
              f"{4096 * (1 + i % 4)},{100 + i % 17}\n" for i in range(500))
CSV = "Time,Op,Size,Sector,RT,Other\n" + "".join(
    f"{1000 + 5 * i},{'W' if i % 2 else 'R'},{512 * (1 + i % 8)},{8 * i},{1.5 + i % 3},x\n" for i in range(300))
SYNTH = "".join(f"{10 * (i % 7) + i} {4096 * (1 + i % 3)} {8 * i} {50 + i}\n" for i in range(200))
CASES = [("msr", "t.csv", MSR, ""), ("msr", "h.csv", "Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n" + MSR, ""),
         ("csv", "c.csv", CSV, "timestamp=Time,length=Size,lba=Sector,latency=RT,opcode=Op"),
         ("text4", "s.txt", SYNTH, "")]


def _same(a, b) -> None:
    for col in ("timestamp", "length", "lba", "latency", "opcode"):
        x, y = getattr(a, col), getattr(b, col)
        assert x.dtype == y.dtype and np.array_equal(x, y), col
    assert (a.origin, a.skipped, len(a), a.meta) == (b.origin, b.skipped, len(b), b.meta)


@pytest.mark.parametrize("fmt, name, text, columns", CASES)
@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("max_lines", [0, 2, 77])
def test_fast_equals_careful(tmp_path, fmt, name, text, columns, gz, max_lines):
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(text.encode()) if gz else text.encode())
    order = "keep" if fmt == "text4" else "check"
    fast = fast_read(path, fmt, max_lines, columns, order)
    careful = read_trace(path, fmt, max_lines=max_lines, columns=columns, fast=False)
    if fmt == "msr" and name == "h.csv" and max_lines == 2:
        assert fast is not None and len(fast) == 1
    assert fast is not None, (fmt, name, gz, max_lines)
    _same(read_trace(path, fmt, max_lines=max_lines, columns=columns), careful)
    _same(read_trace(path, fmt, max_lines=max_lines, columns=columns, sort=True),
          read_trace(path, fmt, max_lines=max_lines, columns=columns, sort=True, fast=False))


@pytest.mark.parametrize("text, why", [
    (MSR.replace(f"{FILETIME + 37 * 3},", f"{FILETIME},", 1), "time goes back"),
    (MSR.replace(",4096,", ",-4096,", 1), "a negative size"),
    (MSR.replace(",100\n", ",nan\n", 1), "a non-finite latency"),
    (MSR.replace("\n", "\n\n", 1), "a blank line"),
    (MSR.replace(",web,0,", ",web,0,extra,", 1), "a ragged row"),
    (MSR.replace(f"{FILETIME + 37},", f"{FILETIME + 37}.5,", 1), "a fractional timestamp"),
])
def test_unusual_files_take_the_careful_path(tmp_path, text, why):
    path = tmp_path / "t.csv"
    path.write_text(text)
    assert fast_read(path, "msr", 0, "", "check") is None, why
    try:
        careful = read_trace(path, "msr", fast=False)
    except DataError as exc:
        with pytest.raises(DataError) as got:
            read_trace(path, "msr")
        assert str(got.value) == str(exc)  # the same file:line:column message either way
    else:
        _same(read_trace(path, "msr"), careful)


def test_gzip_problems_take_the_careful_path(tmp_path):
    fake = tmp_path / "t.csv.gz"
    fake.write_text(MSR)
    for fast in (True, False):  # the same one-line error either way
        with pytest.raises(DataError, match=r"t.csv.gz: name ends in .gz but the file is not gzip-compressed"):
            read_trace(fake, "msr", fast=fast)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(gzip.compress(MSR.encode())[:-30])
    assert fast_read(cut, "msr", 0, "", "check") is None
    with pytest.raises(DataError, match="cut.csv.gz"):
        read_trace(cut, "msr")


def test_seed_format_is_always_careful(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text(f"0 {FILETIME} Read 4096 100 250\n")
    assert fast_read(path, "text6", 0, "", "check") is None


@pytest.mark.parametrize("piece", [16, 64, 101, 4096])  # 16: lines longer than a piece
@pytest.mark.parametrize("fmt, name, text, columns", CASES)
def test_pieces_of_text_join_exactly(tmp_path, monkeypatch, piece, fmt, name, text, columns):
    """A whole file is parsed a piece of text at a time: cuts fall at line ends, whatever the size."""
    import training.fast_readers as fast

    path = tmp_path / name
    path.write_text(text.rstrip("\n"))  # no line end at the very end either
    monkeypatch.setattr(fast, "_PIECE", piece)
    assert fast_read(path, fmt, 0, columns, "keep") is not None
    _same(read_trace(path, fmt, columns=columns), read_trace(path, fmt, columns=columns, fast=False))


@pytest.mark.parametrize("fmt, name, text, columns", CASES)
def test_columns_grow_and_promote_across_pieces(tmp_path, monkeypatch, fmt, name, text, columns):
    """Columns are copied into place as pieces arrive: room that runs out grows (with the rows kept),
    and a column whose later piece pyarrow reads as floats (ints before) becomes float, as the careful
    reader's does, instead of truncating the later values."""
    import training.fast_readers as fast

    monkeypatch.setattr(fast, "_PIECE", 256)
    monkeypatch.setattr(fast, "_estimate_rows", lambda path: 3)
    path = tmp_path / name
    path.write_text(text)
    _same(read_trace(path, fmt, columns=columns), read_trace(path, fmt, columns=columns, fast=False))
    floats = tmp_path / "late_float.txt"
    floats.write_text(SYNTH + "5000.5 4096 8 51\n")
    assert fast_read(floats, "text4", 0, "", "keep") is not None  # the fast path read it
    fast_frame = read_trace(floats, "text4")
    assert fast_frame.timestamp.dtype == np.float64 and fast_frame.timestamp[-1] == 5000.5 - fast_frame.origin
    _same(fast_frame, read_trace(floats, "text4", fast=False))
