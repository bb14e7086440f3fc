from __future__ import annotations

import gzip

import numpy as np
import pytest

from training.errors import DataError
from training.readers import read_trace, reader_names

FILETIME = 128166372003061629  # 18 digits: float32 keeps ~7 of them


def write(path, text):
    path.write_text(text)
    return path


def test_seed_reader_columns_and_skipped_lines(tmp_path):
    p = write(tmp_path / "t.txt", f"0 {FILETIME} Read 4096 100 250\nshort line\n"
                                  f"0 {FILETIME + 7} Write 8192 108 300\n\n")
    f = read_trace(p, "text6")
    assert f.timestamp.dtype == np.int64
    assert f.timestamp.tolist() == [0, 7]
    assert f.origin == FILETIME
    assert f.length.tolist() == [4096, 8192] and f.lba.tolist() == [100, 108]
    assert f.latency.tolist() == [250, 300] and f.opcode.tolist() == [0, 1]
    assert f.skipped == 2


def test_equal_timestamps_and_seed_extra_columns_are_accepted(tmp_path):
    # real traces repeat ticks (MSR web0's first 100k requests: 972 times); the seed format's
    # extra columns are ignored, as the seed does
    p = write(tmp_path / "t.txt", f"0 {FILETIME} Read 4096 100 250 extra 1\n0 {FILETIME} Write 512 9 3 x\n"
                                  f"0 {FILETIME + 1} Read 1 2 3\n")
    f = read_trace(p, "text6")
    assert f.timestamp.tolist() == [0, 0, 1] and f.length.tolist() == [4096, 512, 1] and f.skipped == 0


def test_unordered_trace_is_refused_or_sorted(tmp_path):
    p = write(tmp_path / "t.txt", "0 10 Read 1 1 1\n0 30 Read 2 2 2\n0 20 Write 3 3 3\n")
    with pytest.raises(DataError, match=r"t.txt:3:2: timestamp 20 is earlier than 30 on line 2; .*--sort_by_time"):
        read_trace(p, "text6")
    f = read_trace(p, "text6", sort=True)
    assert f.timestamp.tolist() == [0, 10, 20] and f.length.tolist() == [1, 3, 2] and f.opcode.tolist() == [0, 1, 0]


def test_18_digit_timestamps_stay_distinct(tmp_path):
    lines = "".join(f"0 {FILETIME + 37 * i} Read 4096 {i} 10\n" for i in range(500))
    f = read_trace(write(tmp_path / "t.txt", lines), "text6")
    assert len(np.unique(f.timestamp)) == 500
    # what the seed's float32 parse would have kept:
    assert len(np.unique(np.array([FILETIME + 37 * i for i in range(500)], dtype=np.float32))) < 10


def test_max_lines_counts_file_lines(tmp_path):
    lines = "".join(f"0 {i} Read 1 {i} 1\n" for i in range(50))
    assert len(read_trace(write(tmp_path / "t.txt", lines), "text6", max_lines=20)) == 20


def test_msr_reader_plain_gzip_header(tmp_path):
    body = (f"Timestamp,Hostname,DiskNumber,Type,Offset,Size,ResponseTime\n"
            f"{FILETIME},web,0,Read,1048576,4096,41000\n{FILETIME + 10},web,0,Write,2048,512,900\n")
    plain = read_trace(write(tmp_path / "a.csv", body), "msr")
    gz = tmp_path / "a.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(body)
    zipped = read_trace(gz, "msr")
    for f in (plain, zipped):
        assert f.lba.tolist() == [2048, 4] and f.opcode.tolist() == [0, 1]
        # 100-ns FILETIME ticks in the file, nanoseconds in the frame (training.units)
        assert f.timestamp.tolist() == [0, 1000] and f.latency.tolist() == [4_100_000, 90_000]
        assert f.meta["units"]["timestamp"] == "ns" and f.meta["units"]["source_time_unit"] == "100ns"


def test_seed_synth_reader_and_csv_mapping(tmp_path):
    synth = read_trace(write(tmp_path / "s.txt", "500 4096 10 3\n100 512 11 4\n"), "text4")
    assert synth.timestamp.tolist() == [400, 0]  # relative to the minimum: rows are unordered
    csv = read_trace(write(tmp_path / "c.csv", "T,S,L,R,Op\n5,4096,9,2,W\n9,512,1,3,R\n"), "csv",
                     columns="timestamp=T,length=S,lba=L,latency=R,opcode=Op")
    assert csv.timestamp.tolist() == [0, 4] and csv.opcode.tolist() == [1, 0]


def test_fractional_timestamps_are_float64(tmp_path):
    f = read_trace(write(tmp_path / "t.txt", "0 1.5 R 1 1 1\n0 2.25 R 1 1 1\n"), "text6")
    assert f.timestamp.dtype == np.float64 and f.timestamp.tolist() == [0.0, 0.75]


@pytest.mark.parametrize(("text", "fragment"), [
    ("0 100 Read abc 5 6\n", ":1:4: length: cannot parse 'abc'"),
    ("0 100 Read 1 5 6\n0 1x1 Read 1 5 6\n", ":2:2: timestamp: cannot parse '1x1'"),
    ("0 100 Read 1 nan 6\n", ":1:5: lba: 'nan' is not a finite number"),
    ("0 100 Read -4096 5 6\n", ":1:4: length: negative value '-4096'"),
    ("0 100 Read 1 5 inf\n", ":1:6: latency: 'inf' is not a finite number"),
])
def test_bad_values_name_file_line_column_and_text(tmp_path, text, fragment):
    p = write(tmp_path / "bad.txt", text)
    with pytest.raises(DataError) as err:
        read_trace(p, "text6")
    assert str(err.value).startswith(str(p)) and fragment in str(err.value)


def test_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_trace(tmp_path / "missing.txt", "text6")
    with pytest.raises(DataError, match="unknown trace format 'nope'; valid formats: alibaba, blkparse, csv, disksim, mqsim, msr, "
                                        "oracle_general, parquet, spc, systor, tencent, text, text4, text6, vscsi"):
        read_trace(write(tmp_path / "x.txt", "x"), "nope")
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_trace(write(tmp_path / "fake.csv.gz", "1,2,3"), "msr")
    with pytest.raises(DataError, match="no trace rows found"):
        read_trace(write(tmp_path / "empty.txt", ""), "text6")
    with pytest.raises(DataError, match=r"lines skipped: the text6 format needs .*; a \.csv file: --format csv\?\)$"):
        read_trace(write(tmp_path / "synth.csv", "timestamp,length,lba,opcode\n1,4096,8,R\n"), "text6")
    with pytest.raises(DataError, match=r"msr.csv:2: expected 7 comma-separated fields, found 3"):
        read_trace(write(tmp_path / "msr.csv", f"{FILETIME},w,0,Read,0,1,1\n1,2,3\n"), "msr")
    with pytest.raises(DataError, match="lacks lba=LBA"):
        read_trace(write(tmp_path / "h.csv", "timestamp,length,latency\n1,2,3\n"), "csv", columns="lba=LBA")
    truncated = tmp_path / "cut.csv.gz"
    truncated.write_bytes(gzip.compress(b"1,w,0,Read,0,1,1\n" * 100)[:-12])
    with pytest.raises(DataError, match="cannot read the file"):
        read_trace(truncated, "msr")


def test_registry_names():
    assert reader_names() == ["alibaba", "blkparse", "csv", "disksim", "mqsim", "msr", "oracle_general", "parquet", "spc",
                              "systor", "tencent", "text", "text4", "text6", "vscsi"]


def test_csv_carriage_return_inside_a_field_is_a_located_error(tmp_path):
    # found by the reader fuzzing: the csv module raised its own error, not a DataError
    p = tmp_path / "t.csv"
    p.write_bytes(b"timestamp,length,lba,latency\n1,2,3,4\n2,2\r,3,4\n")
    with pytest.raises(DataError, match=r"t.csv:3: not a CSV line"):
        read_trace(p, "csv")
