"""Property-based fuzzing of the trace readers (hypothesis).

Whatever bytes a file holds, ``read_trace`` either returns a frame that keeps every documented
invariant or raises a ``DataError`` whose message starts with the file's path — never another
exception. Valid traces read back exactly.
"""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from training.errors import DataError
from training.readers import read_trace, reader_names

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

hostile = st.one_of(st.integers(2**63, 2**70).map(str), st.integers(-10**6, -1).map(str),
                    st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6),
                    st.sampled_from(["nan", "inf", "-inf", "1e309", "0x10", "1_000", "", " ", "١٢", "1O", "--1"]))


@st.composite
def trace_text(draw, fmt: str) -> str:
    """Mostly well-formed rows of ``fmt``, each with a chance of one mutation: a hostile field,
    a dropped or extra field, or a timestamp that goes back."""
    out = ["timestamp,length,lba,latency"] if fmt == "csv" else []
    t = draw(st.integers(0, 10**18))
    for _ in range(draw(st.integers(0, 25))):
        t += draw(st.integers(-3, 10**4)) if draw(st.integers(0, 39)) == 0 else draw(st.integers(0, 10**4))
        n, lba, lat = (draw(st.integers(0, 2**31)) for _ in range(3))
        op = draw(st.sampled_from(["Read", "Write", "R", "w", "?"]))
        bit = draw(st.sampled_from(["0", "1", "1", "2"]))  # the numeric opcodes; 2 is no opcode
        fields, sep = {"text6": ([0, t, op, n, lba, lat], " "), "msr": ([t, "web", 0, op, lba * 512, n, lat], ","),
                       "text4": ([t, n, lba, lat], " "), "csv": ([t, n, lba, lat], ","),
                       "text": ([0, t, op, n, lba, lat], "  "),
                       "spc": ([0, lba, n, op, t / 1e6], ","), "alibaba": ([7, op, lba * 512, n, t], ","),
                       "tencent": ([t, lba, n, bit, 1283], ","), "systor": ([t / 1e6, lat / 1e6, op, 0, lba * 512, n], ","),
                       "disksim": ([t / 1e3, 0, lba, n, bit], "  "), "mqsim": ([t, 0, lba, n, bit], " "),
                       "blkparse": (["8,0", 1, 7, f"{t / 1e9:.9f}", 99, "Q", op[0], lba, "+", n, "[x]"], " ")}[fmt]
        fields = [str(f) for f in fields]
        mutation = draw(st.integers(0, 59))
        if mutation == 0:
            fields[draw(st.integers(0, len(fields) - 1))] = draw(hostile)
        elif mutation == 1:
            fields = fields[:draw(st.integers(0, len(fields) - 1))]
        elif mutation == 2:
            fields.append(draw(hostile))
        out.append(sep.join(fields))
    return "".join(line + "\n" for line in out)


def _check(frame) -> None:
    n = len(frame)
    assert n > 0
    assert all(len(c) == n for c in (frame.length, frame.lba, frame.latency, frame.opcode))
    assert frame.timestamp.dtype in (np.int64, np.float64)
    assert frame.timestamp.min() == 0
    for col in (frame.timestamp, frame.length, frame.lba, frame.latency):
        assert np.all(np.isfinite(col)) and np.all(col >= 0)
    assert set(np.unique(frame.opcode).tolist()) <= {-1, 0, 1}


def _read(path, fmt: str, **kw):
    try:
        frame = read_trace(path, fmt, **kw)
    except DataError as exc:
        assert str(exc).startswith(str(path)) or str(exc).startswith("--columns"), exc
        assert "\n" not in str(exc)
        return None
    _check(frame)
    return frame


BINARY = ("oracle_general", "vscsi", "parquet")


@FUZZ
@given(data=st.data(), fmt=st.sampled_from([f for f in reader_names() if f not in BINARY]), gz=st.booleans())
def test_any_lines_give_a_valid_frame_or_a_located_error(tmp_path, data, fmt, gz):
    text = data.draw(trace_text(fmt))
    path = tmp_path / ("t.gz" if gz else "t.txt")
    raw = text.encode("utf-8", "surrogatepass")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    frame = _read(path, fmt, columns="timestamp=2,length=4,lba=5,latency=6,opcode=3" if fmt == "text" else "")
    if frame is not None and fmt != "text4":
        assert np.all(np.diff(frame.timestamp) >= 0)  # time order is checked


@FUZZ
@given(blob=st.binary(max_size=400), fmt=st.sampled_from(reader_names()))
def test_any_bytes_give_a_valid_frame_or_a_located_error(tmp_path, blob, fmt):
    path = tmp_path / "blob.bin"
    path.write_bytes(blob)
    _read(path, fmt)


@FUZZ
@given(blob=st.binary(min_size=1, max_size=200), cut=st.integers(1, 60))
def test_corrupt_gzip_is_a_data_error(tmp_path, blob, cut):
    path = tmp_path / "c.gz"
    whole = gzip.compress(blob * 20)
    path.write_bytes(whole[:max(2, len(whole) - cut)])  # truncated: magic bytes kept, stream cut
    _read(path, "text6")


valid_rows = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2**31), st.integers(0, 2**40), st.integers(0, 10**7),
                                st.sampled_from(["Read", "Write"])), min_size=1, max_size=50)


@FUZZ
@given(rows=valid_rows, start=st.integers(0, 10**18))
def test_valid_seed_traces_read_back_exactly(tmp_path, rows, start):
    gaps, length, lba, latency, ops = map(list, zip(*rows))
    ts = start + np.cumsum(gaps)
    path = tmp_path / "v.txt"
    path.write_text("".join(f"0 {t} {o} {n} {b} {lat}\n" for t, o, n, b, lat in zip(ts, ops, length, lba, latency)))
    frame = _read(path, "text6")
    np.testing.assert_array_equal(frame.timestamp, ts - ts[0])
    assert frame.origin == ts[0]
    np.testing.assert_array_equal(frame.length, length)
    np.testing.assert_array_equal(frame.lba, lba)
    np.testing.assert_array_equal(frame.latency, latency)
    np.testing.assert_array_equal(frame.opcode, [0 if o == "Read" else 1 for o in ops])


@FUZZ
@given(rows=valid_rows, swap=st.integers(0, 48))
def test_out_of_order_is_refused_or_sorted(tmp_path, rows, swap):
    ts = np.cumsum([1 + r[0] for r in rows])
    if len(ts) < 2:
        return
    i = swap % (len(ts) - 1)
    ts[[i, i + 1]] = ts[[i + 1, i]]  # one pair swapped: time goes back at line i + 2
    path = tmp_path / "o.txt"
    path.write_text("".join(f"0 {t} Read 1 2 3\n" for t in ts))
    with pytest.raises(DataError, match=rf"^{path}:{i + 2}:2: timestamp {ts[i + 1]} is earlier than {ts[i]} on line {i + 1}"):
        read_trace(path, "text6")
    frame = read_trace(path, "text6", sort=True)
    np.testing.assert_array_equal(frame.timestamp, np.sort(ts) - ts.min())


@FUZZ
@given(raw=st.binary(max_size=24 * 12), gz=st.booleans())
def test_any_bytes_as_oracle_general_give_a_frame_or_a_located_error(tmp_path, raw, gz):
    path = tmp_path / ("t.gz" if gz else "t.bin")
    path.write_bytes(gzip.compress(raw) if gz else raw)
    frame = _read(path, "oracle_general")
    if frame is not None:
        assert len(frame) == len(raw) // 24
