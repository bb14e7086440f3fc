"""Readers of published block-trace formats: units, volumes, both parsing paths, bad input."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from training.errors import DataError
from training.readers import read_trace, reader_names

# 4 requests on two volumes (A: rows 0, 1, 3; B: row 2); sizes in bytes, offsets in bytes,
# times in µs from 1.5 s, latency in µs, opcode 0 read / 1 write
T_US = np.array([1_500_000, 1_500_250, 1_500_300, 1_502_000])
SIZE = np.array([4096, 8192, 512, 65536])
OFFSET = np.array([4096 * 10, 4096 * 11, 512 * 7, 4096 * 99])
OP = np.array([0, 1, 0, 1])
VOL = ["A", "A", "B", "A"]
LAT_US = np.array([120, 80, 40, 900])


LINE = {  # one request as each format publishes it: t µs, s bytes, o bytes, rw R/W, op 0/1, v volume
    "spc": lambda t, s, o, rw, op, v, lat: f"{v},{o // 512},{s},{rw.lower()},{t / 1e6:.6f}",
    "alibaba": lambda t, s, o, rw, op, v, lat: f"{v},{rw},{o},{s},{t}",
    "tencent": lambda t, s, o, rw, op, v, lat: f"{t // 1_000_000},{o // 512},{s // 512},{op},{v}",
    "systor": lambda t, s, o, rw, op, v, lat: f"{t / 1e6:.6f},{lat / 1e6:.6f},{rw},{v},{o},{s}",
    "disksim": lambda t, s, o, rw, op, v, lat: f"{t / 1e3:.3f}   {v}  {o // 512} {s // 512}   {1 - op}",
    "mqsim": lambda t, s, o, rw, op, v, lat: f"{t * 1000} {v} {o // 512} {s // 512} {1 - op}",
}


def _lines(fmt: str) -> str:
    rows = [LINE[fmt](t, s, o, "RW"[op], op, v, lat) for t, s, o, op, v, lat in zip(T_US, SIZE, OFFSET, OP, VOL, LAT_US)]
    head = "Timestamp,Response,IOType,LUN,Offset,Size\n" if fmt == "systor" else ""
    return head + "\n".join(rows) + "\n"


FORMATS = ["spc", "alibaba", "tencent", "systor", "disksim", "mqsim"]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("fast", [True, False])
def test_each_format_reads_to_bytes_sectors_and_its_time_unit(tmp_path, fmt, fast):
    path = tmp_path / f"t.{fmt}"
    path.write_text(_lines(fmt))
    assert fmt in reader_names()
    frame = read_trace(path, fmt, volume="A", fast=fast)
    a = np.array([0, 1, 3])
    np.testing.assert_array_equal(frame.length, SIZE[a])
    np.testing.assert_array_equal(frame.lba, OFFSET[a] // 512)
    np.testing.assert_array_equal(frame.opcode, OP[a])
    unit = frame.meta["units"]["timestamp"]
    expected = {"µs": T_US[a], "s": T_US[a] // 1_000_000, "ns": T_US[a] * 1000}[unit]
    np.testing.assert_array_equal(frame.timestamp, expected - expected[0])
    if fmt == "systor":
        np.testing.assert_allclose(frame.latency, LAT_US[a])
    else:
        assert (frame.latency == 0).all()  # no latency in the format: the typed model leaves it out
    both = read_trace(path, fmt, volume="all", fast=fast)
    assert len(both) == 4


def test_a_multi_volume_trace_must_say_which_and_the_error_lists_them(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(_lines("alibaba"))
    with pytest.raises(DataError, match=r"a alibaba trace of 2 volumes; choose with --volume .*A \(3 requests\), B \(1 requests\)"):
        read_trace(path, "alibaba")
    with pytest.raises(DataError, match="no volume C in this alibaba trace"):
        read_trace(path, "alibaba", volume="C")
    with pytest.raises(DataError, match="format 'msr' has no volume column"):
        read_trace(path, "msr", volume="A")


def test_gzip_and_max_lines(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(_lines("alibaba").encode()))
    assert len(read_trace(path, "alibaba", volume="all", max_lines=2)) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("A,R,4096,4096,100\nA,X,4096,4096,200\n", "t.csv:2:2: opcode: 'X' is not one of r, read, w, write"),
    ("A,R,4096,4096,100\nA,R,4096,-1,200\n", "t.csv:2:4: size: negative value '-1'"),
    ("A,R,4096,4096,100\nA,R,4096\n", "t.csv:2: expected 5 fields, found 3"),
    ("A,R,4096,4096,300\nA,R,4096,4096,200\n", "t.csv:2: timestamp goes back (200 µs after 300)"),
])
def test_bad_lines_are_named(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_trace(path, "alibaba")
    assert message in str(err.value)
