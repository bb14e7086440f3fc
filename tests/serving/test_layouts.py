"""Synthetic rows written in the published layouts (``serving.layouts``) read back as written."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from serving.layouts import LAYOUTS
from serving.writers import WRITERS, open_writer
from training.errors import ConfigError
from training.readers import read_trace
from training.units import UNSTATED, canonical_units, file_units

ALL = ("timestamp", "length", "lba", "latency", "opcode")


def _rows(n=60, seed=0):
    rng = np.random.default_rng(seed)
    ts = 3e6 + np.cumsum(rng.integers(0, 5_000_000, n)) * 1000.0  # whole µs, so every layout's unit holds them
    return np.stack([ts, rng.choice([512, 4096, 65536], n).astype(float), rng.integers(0, 10**9, n).astype(float),
                     rng.integers(1, 10**6, n) * 1000.0, rng.integers(0, 2, n).astype(float)], 1)


@pytest.mark.parametrize("fmt", sorted(LAYOUTS))
def test_each_layout_reads_back_as_written(tmp_path, fmt):
    rows, path = _rows(), tmp_path / f"t.{fmt}"
    with open_writer(path, fmt, columns=ALL, units=canonical_units("ns")) as w:
        w.write(rows[:25])  # in two calls: one header, the lines of both
        w.write(rows[25:])
    back = read_trace(path, fmt)
    assert len(back) == len(rows)
    np.testing.assert_array_equal(back.timestamp, (rows[:, 0] - rows[0, 0]).astype(np.int64))  # relative, as read
    np.testing.assert_array_equal(back.length, rows[:, 1])
    np.testing.assert_array_equal(back.lba, rows[:, 2])
    np.testing.assert_array_equal(back.opcode, rows[:, 4])
    if LAYOUTS[fmt].fields.count("latency"):
        np.testing.assert_array_equal(back.latency, rows[:, 3])


def test_missing_columns_write_zero_latency_and_reads(tmp_path, caplog):
    rows = _rows()
    rows[:, 3:] = np.nan  # a model without latency or opcode samples NaN there
    with caplog.at_level(logging.WARNING, logger="serving.writers"):
        with open_writer(tmp_path / "t.csv", "systor", columns=ALL[:3], units=canonical_units("ns")) as w:
            w.write(rows)
    assert "every request is written as a read" in caplog.text
    lines = (tmp_path / "t.csv").read_text().splitlines()
    assert lines[0] == "Timestamp,Response,IOType,LUN,Offset,Size" and len(lines) == len(rows) + 1
    assert {line.split(",")[1] for line in lines[1:]} == {"0.000000000"}
    assert {line.split(",")[2] for line in lines[1:]} == {"R"}


def test_units_convert_and_sizes_round_up_to_sectors(tmp_path, caplog):
    rows = np.array([[0.0, 1000.0, 7.0, 3.0, 1.0], [25.0, 4096.0, 9.0, 4.0, 0.0]])
    ticks = file_units(*UNSTATED["text6"])  # a model trained on text6: 100-ns ticks, as that format's data has
    with caplog.at_level(logging.WARNING, logger="serving.writers"):
        with open_writer(tmp_path / "m.txt", "mqsim", columns=ALL, units=ticks) as w:
            w.write(rows)
    assert "taken as 100 ns each for mqsim" in caplog.text  # an assumed unit is said
    assert (tmp_path / "m.txt").read_text() == "0 0 7 2 0\n2500 0 9 8 1\n"  # ns, sectors, 1 read / 0 write
    with open_writer(tmp_path / "d.txt", "disksim", columns=ALL, units=canonical_units("ns")) as w:
        w.write(rows)
    assert (tmp_path / "d.txt").read_text() == "0.000000 0 7 2 0\n0.000025 0 9 8 1\n"  # ms to the ns


def test_a_model_of_unknown_time_unit_cannot_write_a_layout(tmp_path):
    with pytest.raises(ConfigError, match="train it with --time_unit"):
        with open_writer(tmp_path / "t.txt", "mqsim", columns=ALL, units=file_units()) as w:
            w.write(_rows())
    assert not (tmp_path / "t.txt").exists()


def test_the_cli_and_spark_offer_every_writer():
    from ganflow.cli import _OUTPUT_FORMATS
    from serving.spark import _SUFFIX

    assert tuple(_OUTPUT_FORMATS) == WRITERS and set(_SUFFIX) == set(WRITERS)


def test_a_layout_in_the_training_traces_unit_continues_its_clock(tmp_path):
    """A model trained on an MSR trace writes MSR times from the trace's own FILETIME on (a tool that
    reads FILETIMEs sees the trace's date, not 1601); Alibaba's Unix µs the same instant; MQSim's
    relative clock 0."""
    from training.transform import TraceTransformer

    filetime = 128_166_372_000_000_000
    real = tmp_path / "real.csv"
    real.write_text("".join(f"{filetime + 10 * i},web,0,Read,{4096 * i},4096,{100 + i}\n" for i in range(20)))
    units = TraceTransformer().fit(read_trace(real, "msr")).units_
    assert units["origin"] == filetime
    rows = _rows()
    rows[:, 0] -= rows[0, 0]  # synthetic times run from 0, in ns
    with open_writer(tmp_path / "s.csv", "msr", columns=ALL, units=units) as w:
        w.write(rows)
    stamps = [int(line.split(",")[0]) for line in (tmp_path / "s.csv").read_text().splitlines()]
    assert stamps == (filetime + np.rint(rows[:, 0] / 100).astype(np.int64)).tolist()
    np.testing.assert_array_equal(read_trace(tmp_path / "s.csv", "msr").timestamp, rows[:, 0])  # relative, as read
    with open_writer(tmp_path / "a.csv", "alibaba", columns=ALL, units=units) as w:  # Unix µs: the same instant
        w.write(rows)
    assert (tmp_path / "a.csv").read_text().splitlines()[0].endswith(",1172163600000000")  # 2007-02-22 17:00 UTC
    with open_writer(tmp_path / "m.txt", "mqsim", columns=ALL, units=units) as w:  # a relative clock
        w.write(rows)
    assert (tmp_path / "m.txt").read_text().startswith("0 ")


def test_a_layout_on_another_clock_gets_the_same_instant():
    """Unix µs (Alibaba) and MSR FILETIME ticks name the same instant 11,644,473,600 s apart; a relative
    layout (MQSim) starts at 0."""
    from serving.layouts import layout_origin
    from training.units import canonical_units, with_origin

    unix_us = 1_577_836_800_000_000  # 2020-01-01 00:00:00 UTC
    alibaba = {**with_origin(canonical_units("us"), unix_us), "clock": "unix"}
    assert layout_origin(alibaba, "msr") == (1_577_836_800 + 11_644_473_600) * 10**7
    assert layout_origin(alibaba, "alibaba") == unix_us and layout_origin(alibaba, "tencent") == 1_577_836_800
    assert layout_origin(alibaba, "mqsim") == 0
    msr = {**with_origin(canonical_units("100ns"), (1_577_836_800 + 11_644_473_600) * 10**7 + 5), "clock": "filetime"}
    assert layout_origin(msr, "msr") == msr["origin"] and layout_origin(msr, "systor") == pytest.approx(1_577_836_800.0000005)
    assert layout_origin({**msr, "clock": None}, "alibaba") == 0  # clock unknown, units differ: from 0
