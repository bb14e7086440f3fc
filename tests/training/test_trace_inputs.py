"""Traces as published, continued: VSCSI binary, Parquet (ganflow's own output too), column maps by
position, whitespace text, MSR volumes, xz / zstd input and the canonical units."""

from __future__ import annotations

import gzip
import lzma

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from training.errors import DataError
from training.readers import read_trace
from training.vscsi import V1, V2

FILETIME = 128166372003061629
MSR_ROWS = [(FILETIME + 10 * i, ["web", "web", "src"][i % 3], i % 2, "Read" if i % 4 else "Write", 4096 * i, 4096 * (1 + i % 2), 7 + i)
            for i in range(30)]


def _msr(rows=MSR_ROWS) -> str:
    return "".join(f"{t},{h},{d},{op},{off},{n},{lat}\n" for t, h, d, op, off, n, lat in rows)


def _vscsi(dtype, *, cmds=(0x28, 0x2A, 0x00, 0x88), ts=(1_000, 1_250, 1_300, 4_000)) -> np.ndarray:
    rec = np.zeros(len(cmds), dtype)
    rec["cmd"], rec["ts"] = cmds, ts
    rec["ver"] = (2 if dtype is V2 else 1) << 8
    rec["len"] = [4096, 8192, 0, 65536][:len(cmds)]
    rec["lbn"] = [80, 16, 0, 2048][:len(cmds)]
    if dtype is V2:
        rec["rt"] = [120, 80, 0, 900][:len(cmds)]
    return rec


@pytest.mark.parametrize("dtype", [V1, V2])
@pytest.mark.parametrize("codec", [None, "zstd", "gzip"])
def test_vscsi_v1_and_v2_read_to_canonical_units(tmp_path, dtype, codec):
    path = tmp_path / "t.vscsi"
    with pa.output_stream(str(path), compression=codec) as out:
        out.write(_vscsi(dtype).tobytes())
    frame = read_trace(path, "vscsi")
    # the third record is TEST UNIT READY (0x00): no data, skipped and counted
    assert frame.skipped == 1 and frame.meta["vscsi_version"] == (2 if dtype is V2 else 1)
    np.testing.assert_array_equal(frame.timestamp, [0, 250_000, 3_000_000])  # µs -> ns
    np.testing.assert_array_equal(frame.length, [4096, 8192, 65536])
    np.testing.assert_array_equal(frame.lba, [80, 16, 2048])
    np.testing.assert_array_equal(frame.opcode, [0, 1, 0])
    np.testing.assert_array_equal(frame.latency, [120_000, 80_000, 900_000] if dtype is V2 else [0, 0, 0])
    assert frame.meta["units"]["source_time_unit"] == "us" and frame.meta["units"]["timestamp"] == "ns"
    assert len(read_trace(path, "vscsi", max_lines=2)) == 2


@pytest.mark.parametrize(("mangle", "message"), [
    (lambda b: b[:-7], r"153 bytes is not a whole number of 40-byte VSCSI v2 records \(record 4 is cut short at byte 120\)"),
    (lambda b: b[:80] + b"\x00" * 40 + b[120:], r"record 3 \(byte 80\) has version byte 0, not 2"),
    (lambda b: b"\x00" * len(b), "not a VSCSI trace"),
])
def test_vscsi_bad_records_are_named(tmp_path, mangle, message):
    path = tmp_path / "t.vscsi"
    path.write_bytes(mangle(_vscsi(V2).tobytes()))
    with pytest.raises(DataError, match=message):
        read_trace(path, "vscsi")


def test_vscsi_out_of_order_is_refused_or_sorted(tmp_path):
    path = tmp_path / "t.vscsi"
    path.write_bytes(_vscsi(V1, ts=(1_000, 900, 1_300, 4_000)).tobytes())
    with pytest.raises(DataError, match=r"record 2: time 900 µs is earlier"):
        read_trace(path, "vscsi")
    np.testing.assert_array_equal(read_trace(path, "vscsi", sort=True).timestamp, [0, 100_000, 3_100_000])


@pytest.mark.parametrize("compress", [lzma.compress, gzip.compress,
                                      lambda b: pa.compress(b, "zstd", asbytes=True)], ids=["xz", "gzip", "zstd-raw"])
@pytest.mark.parametrize("fast", [True, False])
def test_compressed_text_reads_like_plain(tmp_path, compress, fast):
    plain = tmp_path / "t.csv"
    plain.write_text(_msr())
    packed = tmp_path / "t.packed"
    if compress.__name__ == "<lambda>":  # a zstd frame as the zstd tool writes it
        with pa.output_stream(str(packed), compression="zstd") as out:
            out.write(plain.read_bytes())
    else:
        packed.write_bytes(compress(plain.read_bytes()))
    a, b = read_trace(plain, "msr", volume="all"), read_trace(packed, "msr", volume="all", fast=fast)
    for col in ("timestamp", "length", "lba", "latency", "opcode"):
        np.testing.assert_array_equal(getattr(a, col), getattr(b, col))


def test_truncated_xz_is_a_located_error(tmp_path):
    path = tmp_path / "t.csv.xz"
    path.write_bytes(lzma.compress(_msr().encode())[:200])
    for fast in (True, False):
        with pytest.raises(DataError, match=r"t.csv.xz:\d+: cannot read the file"):
            read_trace(path, "msr", volume="all", fast=fast)
    named = tmp_path / "plain.csv.xz"
    named.write_text(_msr())
    with pytest.raises(DataError, match="name ends in .xz but the file is not xz-compressed"):
        read_trace(named, "msr")


@pytest.mark.parametrize("fast", [True, False])
def test_msr_hosts_and_disks_are_volumes(tmp_path, fast):
    path = tmp_path / "t.csv"
    path.write_text(_msr())
    with pytest.raises(DataError, match=r"a msr trace of 4 volumes; choose with --volume .*web_0 \(10 requests\)"):
        read_trace(path, "msr", fast=fast)
    web1 = read_trace(path, "msr", volume="web_1", fast=fast)
    expect = [i for i in range(30) if i % 3 != 2 and i % 2 == 1]
    np.testing.assert_array_equal(web1.lba, [8 * i for i in expect])
    np.testing.assert_array_equal(web1.timestamp, [1000 * (i - expect[0]) for i in expect])  # 100-ns ticks -> ns
    assert len(read_trace(path, "msr", volume="web_0,src_1", fast=fast)) == 10 + 5
    with pytest.raises(DataError, match="no volume web_9 in this msr trace"):
        read_trace(path, "msr", volume="web_9", fast=fast)
    from training.trace_profile import format_profile, profile

    report = profile(read_trace(path, "msr", volume="all", fast=fast), "msr")  # inspect lists them
    assert report["volumes"] == {"web_0": 10, "web_1": 10, "src_0": 5, "src_1": 5}
    assert any(line.startswith("volumes") and "4: web_0 (10)" in line for line in format_profile(report))
    one = tmp_path / "one.csv"  # one volume: nothing to choose
    one.write_text(_msr([r for r in MSR_ROWS if r[1] == "web" and r[2] == 0]))
    assert len(read_trace(one, "msr", fast=fast)) == 10


CSV_BODY = "".join(f"{1000 + 5 * i},{'W' if i % 2 else 'R'},{512 * (1 + i % 8)},{8 * i}\n" for i in range(40))


@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("header", [False, True])
def test_csv_columns_by_position(tmp_path, fast, header):
    path = tmp_path / "t.csv"
    path.write_text(("when,op,bytes,sector\n" if header else "") + CSV_BODY)
    frame = read_trace(path, "csv", columns="timestamp=1,opcode=2,length=3,lba=4", fast=fast)
    assert len(frame) == 40 and frame.timestamp[-1] == 5 * 39
    np.testing.assert_array_equal(frame.lba, 8 * np.arange(40))
    np.testing.assert_array_equal(frame.opcode, np.arange(40) % 2)
    assert (frame.latency == 0).all()
    assert len(read_trace(path, "csv", columns="timestamp=1,opcode=2,length=3,lba=4", max_lines=7, fast=fast)) == 7


@pytest.mark.parametrize("fast", [True, False])
def test_text_any_column_order(tmp_path, fast):
    path = tmp_path / "t.txt"
    # DiskSim-like order, spaces and tabs as published: LBA, size, time, opcode, latency
    body = "".join(f"{8 * i}\t{4096 * (1 + i % 3)} {1_000 + 7 * i}  {'rw'[i % 2]} {30 + i}\n" for i in range(25))
    path.write_text(body)
    columns = "lba=1,length=2,timestamp=3,opcode=4,latency=5"
    frame = read_trace(path, "text", columns=columns, fast=fast)
    np.testing.assert_array_equal(frame.timestamp, 7 * np.arange(25))
    np.testing.assert_array_equal(frame.length, 4096 * (1 + np.arange(25) % 3))
    np.testing.assert_array_equal(frame.latency, 30 + np.arange(25))
    single = tmp_path / "single.txt"  # one space between fields: pyarrow's fast path
    single.write_text("".join(f"{8 * i} 4096 {1_000 + 7 * i} r\n" for i in range(25)))
    assert len(read_trace(single, "text", columns="lba=1,length=2,timestamp=3,opcode=4", fast=fast)) == 25


def test_text_needs_a_map_and_long_enough_lines(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("1 2 3\n4 5 6\n")
    with pytest.raises(DataError, match=r"t.txt: the text format needs a column map"):
        read_trace(path, "text")
    with pytest.raises(DataError, match=r"t.txt:1: header \['1', '2', '3'\] lacks lba=sector"):
        read_trace(path, "text", columns="timestamp=1,length=2,lba=sector")
    path.write_text("100 4096 8\n101 4096\n")
    with pytest.raises(DataError, match=r"t.txt:2: expected at least 3 fields \(the --columns map\), found 2"):
        read_trace(path, "text", columns="timestamp=1,length=2,lba=3")
    with pytest.raises(DataError, match="positions count from 1"):
        read_trace(path, "text", columns="timestamp=0,length=2,lba=3")


def test_time_unit_converts_unstated_formats_and_refuses_a_mismatch(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV_BODY)
    columns = "timestamp=1,opcode=2,length=3,lba=4"
    kept = read_trace(path, "csv", columns=columns)
    assert kept.meta["units"]["timestamp"] == "the file's unit" and kept.timestamp[1] == 5
    us = read_trace(path, "csv", columns=columns, time_unit="us")
    assert us.meta["units"]["timestamp"] == "ns" and us.timestamp[1] == 5_000
    msr = tmp_path / "m.csv"
    msr.write_text(_msr())
    with pytest.raises(DataError, match="a msr trace's times are in 100ns, not s"):
        read_trace(msr, "msr", volume="all", time_unit="s")
    with pytest.raises(DataError, match="not a time unit"):
        read_trace(path, "csv", columns=columns, time_unit="fortnights")


def _parquet(path, table: dict, metadata=None):
    pq.write_table(pa.table(table).replace_schema_metadata(metadata), path)


def test_parquet_by_name_and_position_and_bad_values(tmp_path):
    path = tmp_path / "t.parquet"
    _parquet(path, {"ts": [10, 20, 35], "op": ["R", "W", "w"], "n": [4096, 512, 8192], "sector": [0, 8, 16]})
    frame = read_trace(path, "parquet", columns="timestamp=ts,length=n,lba=sector,opcode=op", time_unit="ms")
    np.testing.assert_array_equal(frame.timestamp, [0, 10_000_000, 25_000_000])
    np.testing.assert_array_equal(frame.opcode, [0, 1, 1])
    same = read_trace(path, "parquet", columns="timestamp=1,opcode=2,length=3,lba=4", time_unit="ms")
    np.testing.assert_array_equal(same.lba, frame.lba)
    _parquet(path, {"timestamp": [1, 2], "length": [4096, -1], "lba": [0, 8]})
    with pytest.raises(DataError, match=r"column 'length' \(length\): row 2 holds -1"):
        read_trace(path, "parquet")
    _parquet(path, {"timestamp": [1, 2], "length": [4096, 4096], "lba": [0, 8], "opcode": ["R", "X"]})
    with pytest.raises(DataError, match=r"column 'opcode' \(opcode\): row 2 holds 'x', not R/W"):
        read_trace(path, "parquet")
    _parquet(path, {"timestamp": ["a", "b"], "length": [4096, 4096], "lba": [0, 8]})
    with pytest.raises(DataError, match=r"column 'timestamp' \(timestamp\) is string, not a number"):
        read_trace(path, "parquet")
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        read_trace(path, "parquet")


def test_ganflow_parquet_output_reads_back_with_its_units(tmp_path):
    from serving.writers import open_writer
    from training.units import canonical_units

    rows = np.array([[0, 4096, 8, 1500, 0], [2500, 8192, 16, 900, 1], [9000, 512, 24, 300, 0]], np.float64)
    path = tmp_path / "synth.parquet"
    units = canonical_units("100ns")
    with open_writer(path, "parquet", columns=("timestamp", "length", "lba", "latency", "opcode"), units=units) as w:
        w.write(rows)
    back = read_trace(path, "parquet")
    np.testing.assert_array_equal(back.timestamp, rows[:, 0])
    np.testing.assert_array_equal(back.opcode, [0, 1, 0])
    np.testing.assert_array_equal(back.latency, rows[:, 3])
    assert back.meta["units"] == units
    with pytest.raises(DataError, match="says its times are in ns"):
        read_trace(path, "parquet", time_unit="us")


def test_distinct_counts_like_numpy_unique():
    from training.data import distinct

    rng = np.random.default_rng(3)
    for values in (np.sort(rng.integers(0, 50, 300)), rng.integers(0, 50, 300), np.zeros(0, np.int64), np.array([4])):
        assert distinct(values) == len(np.unique(values))
