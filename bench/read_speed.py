"""Trace reading speed: ``read_trace`` (pyarrow fast path, and the careful per-line path) against
``pyarrow.csv.read_csv`` of the same file, in the same run.

The files are MSR Cambridge CSVs made from the shared web0 trace: N/100,000 copies, each shifted in
time to follow the previous one, written once to a temporary folder (plain text, as published).
The per-line path is timed only up to ``--careful_max`` rows (it is the explain-an-error path).
"first" is the first read in the process (it pays pyarrow's one-time start-up), "again" a second
read of the same file, beside a second ``pyarrow.csv.read_csv``. Memory and ``fresh_process_read_s``:
one read in a fresh process (as ``ganflow`` reads a trace: lazy imports included, the file in the
page cache), its peak RSS over the bare process's, against the size of the parsed columns.

``--formats msr,alibaba,oracle_general`` also writes the same requests as an Alibaba block trace
(device, opcode R/W, offset, length, timestamp in µs; read with ``--volume all``) and as
libCacheSim oracleGeneral binary records (object id = 4 KiB page of the offset); ``vscsi`` as
CloudPhysics VSCSI v2 records. The binary formats' baseline is ``numpy.fromfile`` of the same file
instead of pyarrow, and their "again" is the median of five reads.

Usage: python bench/read_speed.py [--rows 1000000,10000000] [--careful_max 1000000] [--formats msr,alibaba]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, require  # noqa: E402


def _alibaba(t: int, rest: str) -> str:
    _, disk, op, offset, size, _ = rest.split(",")
    return f"{disk},{op[0]},{offset},{size},{t // 10}"  # 100-ns ticks -> µs


def _write(path: Path, rows: int, fmt: str = "msr") -> None:
    import gzip

    with gzip.open(require(MSR), "rt") as fh:
        lines = [line.rstrip("\n").split(",", 1) for line in fh if line.strip()]
    ts = np.array([int(t) for t, _ in lines], np.int64)
    span = int(ts[-1] - ts[0]) + int(np.median(np.diff(ts)))
    line = _alibaba if fmt == "alibaba" else (lambda t, rest: f"{t},{rest}")
    with open(path, "w") as out:
        for k in range(-(-rows // len(lines))):
            take = lines[: rows - k * len(lines)]
            out.write("".join(line(t + k * span, rest) + "\n" for t, rest in ((int(a), b) for a, b in take)))


def _binary_speed(path: Path, rows: int, fmt: str) -> dict:
    """The web0 requests as oracleGeneral records (object id = 4 KiB page) or VSCSI v2 records
    (READ(10)/WRITE(10), µs); first read, then the median of 5 more, beside ``numpy.fromfile``."""
    import gzip
    import statistics

    from training.published_formats import ORACLE_GENERAL
    from training.readers import read_trace
    from training.vscsi import V2

    with gzip.open(require(MSR), "rt") as fh:
        parts = [line.split(",") for line in fh if line.strip()]
    t0 = int(parts[0][0])
    if fmt == "oracle_general":
        dtype, time_field, tick = ORACLE_GENERAL, "time", 10**7  # seconds
        one = np.zeros(len(parts), dtype)
        one["obj_id"], one["size"], one["next"] = [int(p[4]) // 4096 for p in parts], [int(p[5]) for p in parts], -1
    else:
        dtype, time_field, tick = V2, "ts", 10  # µs
        one = np.zeros(len(parts), dtype)
        one["cmd"] = [0x28 if p[3] == "Read" else 0x2A for p in parts]
        one["ver"], one["len"], one["lbn"] = 2 << 8, [int(p[5]) for p in parts], [int(p[4]) // 512 for p in parts]
        one["rt"] = [int(p[6]) // 10 for p in parts]
    one[time_field] = [(int(p[0]) - t0) // tick for p in parts]
    reps = -(-rows // len(one))
    recs = np.concatenate([one] * reps)[:rows]
    recs[time_field] += np.repeat(np.arange(reps, dtype=recs[time_field].dtype) * (int(one[time_field][-1]) + 1),
                                  len(one))[:rows]
    recs.tofile(path)
    del recs
    _, base_s = _time(lambda: np.fromfile(path, dtype))
    frame, first_s = _time(lambda: read_trace(path, fmt))
    assert len(frame) == rows
    del frame
    again_s = statistics.median(_time(lambda: read_trace(path, fmt))[1] for _ in range(5))
    fresh = _memory(path, fmt, {})
    fresh["fresh_process_fromfile_s"] = _fresh_fromfile(path)
    path.unlink()
    return {"format": fmt, "rows": rows, "numpy_fromfile_s": round(base_s, 3), "ganflow_first_s": round(first_s, 2),
            "ganflow_again_median_s": round(again_s, 2), "ganflow_rows_per_s": round(rows / again_s),
            "fresh_process_rows_per_s": round(rows / fresh["fresh_process_read_s"])} | fresh


def _fresh_fromfile(path: Path) -> float:
    """``numpy.fromfile`` of the whole file in a fresh process: what the machine charges for the
    bytes alone (fresh pages), the floor under a fresh process's read."""
    import subprocess

    code = f"import time, numpy; t = time.perf_counter(); numpy.fromfile({str(path)!r}, numpy.uint8); print(time.perf_counter() - t)"
    return round(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout), 2)


def _time(fn) -> tuple[object, float]:
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def _memory(path: Path, fmt: str, kw: dict) -> dict:
    """Peak RSS of one ``read_trace`` in a fresh process, beside the parsed columns' size and the
    bare process (Python, NumPy, pyarrow imported)."""
    import subprocess

    hwm = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 2**20"
    # VmHWM: this process image's peak (ru_maxrss survives exec)
    code = ("import time, pyarrow.csv; from training.readers import read_trace; "
            f"base = {hwm}; t = time.perf_counter(); f = read_trace({str(path)!r}, {fmt!r}, **{kw!r}); "
            "s = time.perf_counter() - t; "
            "cols = sum(getattr(f, c).nbytes for c in ('timestamp', 'length', 'lba', 'latency', 'opcode')); "
            f"print(base, {hwm}, cols / 2**30, s)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    base, peak, cols, seconds = (float(v) for v in out.stdout.split())
    return {"peak_rss_gib": round(peak, 2), "bare_process_gib": round(base, 2), "columns_gib": round(cols, 2),
            "rss_over_columns": round((peak - base) / cols, 2), "fresh_process_read_s": round(seconds, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", default="1000000,10000000")
    ap.add_argument("--careful_max", type=int, default=1_000_000)
    ap.add_argument("--formats", default="msr")
    args = ap.parse_args()
    import pyarrow.csv as pv

    from training.readers import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        for fmt, rows in ((f, int(r)) for f in args.formats.split(",") for r in args.rows.split(",")):
            if fmt in ("oracle_general", "vscsi"):
                print(json.dumps(_binary_speed(Path(tmp) / f"{fmt}_{rows}.bin", rows, fmt)), flush=True)
                continue
            path = Path(tmp) / f"{fmt}_{rows}.csv"
            _write(path, rows, fmt)
            kw = {"volume": "all"} if fmt == "alibaba" else {}
            table, arrow_s = _time(lambda p=path: pv.read_csv(p, read_options=pv.ReadOptions(autogenerate_column_names=True)))
            frame, first_s = _time(lambda p=path, f=fmt, k=kw: read_trace(p, f, **k))
            assert len(frame) == table.num_rows == rows
            _, again_s = _time(lambda p=path, f=fmt, k=kw: read_trace(p, f, **k))
            _, arrow_again_s = _time(lambda p=path: pv.read_csv(p, read_options=pv.ReadOptions(autogenerate_column_names=True)))
            out = {"format": fmt, "rows": rows, "mb": round(path.stat().st_size / 2**20, 1), "pyarrow_read_csv_s": round(arrow_s, 2),
                   "ganflow_first_s": round(first_s, 2), "ganflow_again_s": round(again_s, 2),
                   "pyarrow_again_s": round(arrow_again_s, 2), "ganflow_rows_per_s": round(rows / again_s),
                   "ganflow_vs_pyarrow_first": round(arrow_s / first_s, 2),
                   "ganflow_vs_pyarrow_again": round(arrow_again_s / again_s, 2)}
            out |= _memory(path, fmt, kw)
            if rows <= args.careful_max:
                _, careful_s = _time(lambda p=path, f=fmt, k=kw: read_trace(p, f, fast=False, **k))
                out |= {"careful_s": round(careful_s, 2), "careful_vs_pyarrow": round(arrow_again_s / careful_s, 3)}
            del frame, table
            path.unlink()
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
