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
    units = frame.meta["units"]  # every format in ns; Tencent publishes whole seconds
    assert units["timestamp"] == "ns" and units["source_time_unit"] == {
        "spc": "s", "alibaba": "us", "tencent": "s", "systor": "s", "disksim": "ms", "mqsim": "ns"}[fmt]
    expected = T_US[a] // 1_000_000 * 10**9 if fmt == "tencent" else T_US[a] * 1000
    np.testing.assert_array_equal(frame.timestamp, expected - expected[0])
    if fmt == "systor":
        np.testing.assert_allclose(frame.latency, LAT_US[a] * 1000)
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
    with pytest.raises(DataError, match="format 'text6' has no volume column"):
        read_trace(path, "text6", volume="A")


def test_gzip_and_max_lines(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(_lines("alibaba").encode()))
    assert len(read_trace(path, "alibaba", volume="all", max_lines=2)) == 2


@pytest.mark.parametrize(("text", "message"), [
    ("A,R,4096,4096,100\nA,X,4096,4096,200\n", "t.csv:2:2: opcode: 'X' is not one of r, read, w, write"),
    ("A,R,4096,4096,100\nA,R,4096,-1,200\n", "t.csv:2:4: size: negative value '-1'"),
    ("A,R,4096,4096,100\nA,R,4096\n", "t.csv:2: expected 5 fields, found 3"),
    ("A,R,4096,4096,300\nA,R,4096,4096,200\n", "t.csv:2: timestamp goes back (200 us after 300)"),
])
def test_bad_lines_are_named(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_trace(path, "alibaba")
    assert message in str(err.value)


def _oracle_records():
    from training.published_formats import ORACLE_GENERAL

    rec = np.zeros(6, ORACLE_GENERAL)
    rec["time"] = [10, 10, 11, 12, 12, 13]
    rec["obj_id"] = [2**63 + 5, 7, 2**63 + 5, 9, 7, 11]  # ids, not addresses (often hashes)
    rec["size"] = [4096, 16384, 8192, 512, 16384, 4096]
    rec["next"] = -1
    return rec


@pytest.mark.parametrize("codec", [None, "zstd", "gzip"])
def test_oracle_general_gives_each_object_its_own_address_range(tmp_path, codec):
    import pyarrow as pa

    path = tmp_path / "t.oracleGeneral"
    with pa.output_stream(str(path), compression=codec) as out:
        out.write(_oracle_records().tobytes())
    frame = read_trace(path, "oracle_general")
    np.testing.assert_array_equal(frame.timestamp, np.array([0, 0, 1, 2, 2, 3]) * 10**9)  # s -> ns
    np.testing.assert_array_equal(frame.length, [4096, 16384, 8192, 512, 16384, 4096])
    # first-seen order, each object as wide as its largest request (in 4 KiB pages) -> sectors
    np.testing.assert_array_equal(frame.lba, [0, 16, 0, 48, 16, 56])
    assert (frame.opcode == -1).all() and (frame.latency == 0).all() and frame.meta["units"]["source_time_unit"] == "s"
    assert len(read_trace(path, "oracle_general", max_lines=4)) == 4


def test_oracle_general_cut_short_is_named(tmp_path):
    path = tmp_path / "t.bin"
    path.write_bytes(_oracle_records().tobytes()[:-5])
    with pytest.raises(DataError, match=r"139 bytes is not a whole number of 24-byte oracleGeneral records "
                                        r"\(record 6 is cut short at byte 120\)"):
        read_trace(path, "oracle_general")


def test_blkparse_reads_the_queued_requests(tmp_path):
    path = tmp_path / "t.blk"
    path.write_text("""  8,0    3        1     0.000000000   697  Q   R 223490 + 8 [kjournald]
  8,0    3        2     0.000001000   697  G   R 223490 + 8 [kjournald]
  8,0    3        3     0.000002500   697  Q  WS 223498 + 16 [kjournald]
  8,0    3        4     0.000003000   697  Q  FN [kjournald]
  8,16   1        1     0.000004000   700  Q   R 10 + 8 [dd]
  8,0    3        5     0.000005000   697  C   R 223490 + 8 [0]
CPU3 (sda):
 Reads Queued:           1,        4KiB\t Writes Queued:           1,        8KiB
""")
    with pytest.raises(DataError, match=r"a blkparse trace of 2 volumes.*8,0 \(2 requests\), 8,16 \(1 requests\)"):
        read_trace(path, "blkparse")
    frame = read_trace(path, "blkparse", volume="8,0")  # one whole id; "8,0;8,16" would take both
    assert len(read_trace(path, "blkparse", volume="8,0;8,16")) == 3
    np.testing.assert_array_equal(frame.timestamp, [0, 2500])  # ns
    np.testing.assert_array_equal(frame.lba, [223490, 223498])
    np.testing.assert_array_equal(frame.length, [4096, 8192])
    np.testing.assert_array_equal(frame.opcode, [0, 1])


@pytest.mark.parametrize(("fmt", "text"), [("mqsim", "1700000000000000001 0 8 8 1\n1700000000000000003 0 16 8 0\n"),
                                           ("alibaba", "0,R,0,4096,1700000000000000001\n0,W,0,4096,1700000000000000003\n")])
@pytest.mark.parametrize("fast", [True, False])
def test_integer_ticks_stay_exact_beyond_float64(tmp_path, fmt, text, fast):
    path = tmp_path / "t"
    path.write_text(text)
    frame = read_trace(path, fmt, fast=fast)
    ns = {"mqsim": 1, "alibaba": 1000}[fmt]  # the origin stays in the file's unit, the rows are ns
    assert frame.timestamp.tolist() == [0, 2 * ns] and frame.origin == 1700000000000000001
