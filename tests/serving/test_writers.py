from __future__ import annotations

import numpy as np
import pytest

from serving.writers import open_writer, write_trace_frame
from training.errors import ConfigError
from training.readers import read_trace

ROWS = np.array([[0.0, 4096.4, 10.6, 3.5], [12.9, 511.5, -0.4, 7.2]])


def test_seed_format_truncates_like_the_seed(tmp_path):
    with open_writer(tmp_path / "s.txt", "text4") as w:
        w.write(ROWS)
    assert (tmp_path / "s.txt").read_text() == "0 4096 10 3\n12 511 0 7\n"


def test_csv_rounds_and_has_header(tmp_path):
    with open_writer(tmp_path / "s.csv", "csv") as w:
        w.write(ROWS)
        w.write(ROWS[:1])
    assert (tmp_path / "s.csv").read_text().splitlines() == [
        "timestamp,length,lba,latency", "0,4096,11,4", "13,512,0,7", "0,4096,11,4"]


def test_parquet_round_trip(tmp_path):
    import pyarrow.parquet as pq

    with open_writer(tmp_path / "s.parquet", "parquet") as w:
        w.write(ROWS)
    table = pq.read_table(tmp_path / "s.parquet")
    assert table.column_names == ["timestamp", "length", "lba", "latency"]
    assert table.column("lba").to_pylist() == [11, 0]


def test_failure_leaves_no_file(tmp_path):
    with pytest.raises(RuntimeError):
        with open_writer(tmp_path / "s.txt", "text4") as w:
            w.write(ROWS)
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []


def test_refuses_overwrite_when_asked_and_unknown_format(tmp_path):
    (tmp_path / "s.txt").write_text("keep")
    with pytest.raises(ConfigError, match="pass --overwrite"):
        with open_writer(tmp_path / "s.txt", "text4", overwrite=False):
            pass
    assert (tmp_path / "s.txt").read_text() == "keep"
    with pytest.raises(ConfigError, match="valid formats: text4, csv, parquet"):
        with open_writer(tmp_path / "x", "xml"):
            pass


@pytest.mark.parametrize("fmt", ["text6", "msr"])
def test_sample_trace_files_read_back(tmp_path, sample_frame, fmt):
    path = write_trace_frame(sample_frame, tmp_path / f"t.{fmt}", fmt)
    back = read_trace(path, fmt)
    ns = 100 if fmt == "msr" else 1  # MSR files hold 100-ns ticks, read as ns; the seed format keeps its own
    np.testing.assert_array_equal(back.timestamp, sample_frame.timestamp * ns)
    np.testing.assert_array_equal(back.lba, sample_frame.lba)
    np.testing.assert_array_equal(back.opcode, sample_frame.opcode)
    assert back.origin == sample_frame.origin
