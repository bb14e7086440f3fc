"""The bad-input campaign: every malformed input through the real ``ganflow`` command, in a
subprocess, with a real tracking store holding real registered models.

Each case must give exactly one line on stderr (``error: …`` naming the file/line/value or
option), exit code 2, no traceback, no output file and no temporary left beside it, and no
MLflow run created or left RUNNING. docs/RELIABILITY.md lists the cases.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

GOOD_SEED = "".join(f"0 {1000 + 7 * i} Read {4096 * (1 + i % 3)} {8 * i} {100 + i % 17}\n" for i in range(40))
GOOD_MSR = "".join(f"{1000 + 7 * i},web,0,Write,{4096 * i},4096,{100 + i}\n" for i in range(40))


def _seed_lines(bad: str, at: int = 3) -> str:
    lines = GOOD_SEED.splitlines(keepends=True)
    lines.insert(at - 1, bad)
    return "".join(lines)


def _features(n_per=(8, 6), d=13, *, nan=False) -> dict:
    feats = [[float(c + i * 0.1 + j) for j in range(d)] for c, n in enumerate(n_per) for i in range(n)]
    if nan:
        feats[3][5] = float("nan")
    labels = [name for name, n in zip(("blues", "jazz", "rock"), n_per) for _ in range(n)]
    return {"features": feats, "labels": labels}


def _gzip_bytes(text: str) -> bytes:
    return gzip.compress(text.encode())


def _vscsi_v2(n: int = 40) -> bytes:
    import numpy as np

    from training.vscsi import V2

    rec = np.zeros(n, V2)
    rec["cmd"], rec["ver"], rec["len"], rec["lbn"], rec["ts"] = 0x28, 2 << 8, 4096, 8 * np.arange(n), 1000 + 7 * np.arange(n)
    return rec.tobytes()


def _parquet_bytes(opcodes: list[str]) -> bytes:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    n = len(opcodes)
    buf = io.BytesIO()
    pq.write_table(pa.table({"timestamp": list(range(0, 7 * n, 7)), "length": [4096] * n, "lba": list(range(0, 8 * n, 8)),
                             "opcode": opcodes}), buf)
    return buf.getvalue()


TRAIN = ["train", "--num_epochs", "1", "--hidden_dim", "8", "--output_synth", "{d}/out.txt"]
FEAT = ["train-features", "--epochs", "1", "--register_as", ""]
GEN = ["generate", "--num_entries", "100", "--output_synth", "{d}/out.txt", "--no-lineage"]

# (id, {file name: content}, argv with {d} = case folder and {…} = fixture values, fragment)
CASES = [
    # --- trace readers -------------------------------------------------------------------
    ("seed-text-in-number", {"t.txt": _seed_lines("0 1021 Read 4096 8 1O\n")},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:3:6: latency: cannot parse '1O' as a number"),
    ("seed-nan", {"t.txt": _seed_lines("0 1021 Read nan 8 10\n")},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:3:4: length: 'nan' is not a finite number"),
    ("seed-inf", {"t.txt": _seed_lines("0 1021 Read 4096 8 inf\n")},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:3:6: latency: 'inf' is not a finite number"),
    ("seed-negative-size", {"t.txt": _seed_lines("0 1021 Read -4096 8 10\n")},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:3:4: length: negative value '-4096'"),
    ("seed-negative-timestamp", {"t.txt": "0 -5 Read 4096 8 10\n" + GOOD_SEED},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:1:2: timestamp: negative value '-5'"),
    ("seed-time-goes-back", {"t.txt": _seed_lines("0 1003 Read 4096 8 10\n", at=5)},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:5:2: timestamp 1003 is earlier than 1021 on line 4"),
    ("seed-timestamp-overflow", {"t.txt": _seed_lines(f"0 {2**64} Read 4096 8 10\n")},
     [*TRAIN, "--trace_path", "{d}/t.txt"], f"{{d}}/t.txt:3:2: timestamp {2**64} does not fit in 64 bits"),
    ("seed-empty-file", {"t.txt": ""},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt: no trace rows found (format 'text6', 0 lines skipped: the text6"),
    ("seed-only-truncated-lines", {"t.txt": "0 1000 Read 4096\n0 1007 Write\n"},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt: no trace rows found (format 'text6', 2 lines skipped: the text6"),
    ("seed-shorter-than-a-sequence", {"t.txt": GOOD_SEED[: GOOD_SEED.index("\n", 200) + 1]},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "fewer than one sequence of seq_len=12"),
    ("seed-not-utf8", {"t.txt": b"0 1000 Read 4096 8 10\n\xff\xfe\x00garbage\n"},
     [*TRAIN, "--trace_path", "{d}/t.txt"], "{d}/t.txt:2: not UTF-8 text (byte 0xff at offset 0 of the line)"),
    ("gz-name-not-gzip", {"t.txt.gz": GOOD_SEED},
     [*TRAIN, "--trace_path", "{d}/t.txt.gz"], "{d}/t.txt.gz: name ends in .gz but the file is not gzip-compressed"),
    ("gzip-truncated", {"t.msr": _gzip_bytes(GOOD_MSR * 50)[:300]},
     [*TRAIN, "--trace_path", "{d}/t.msr", "--trace-format", "msr"],
     "{d}/t.msr:26: cannot read the file (EOFError: Compressed file ended before the end-of-stream marker"),
    ("msr-truncated-line", {"t.csv": GOOD_MSR + "1300,web,0,Write,409\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr"], "{d}/t.csv:41: expected 7 comma-separated fields, found 5"),
    ("msr-extra-column", {"t.csv": "1000,web,0,Write,0,4096,100,extra\n" + GOOD_MSR},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr"], "{d}/t.csv:1: expected 7 comma-separated fields, found 8"),
    ("msr-text-offset", {"t.csv": GOOD_MSR + "1300,web,0,Write,0x10,4096,100\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr"], "{d}/t.csv:41:5: offset: cannot parse '0x10'"),
    ("msr-duplicate-then-back", {"t.csv": GOOD_MSR + "1273,web,0,Read,0,512,9\n1272,web,0,Read,0,512,9\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr"],
     "{d}/t.csv:42:1: timestamp 1272 is earlier than 1273 on line 41"),
    ("csv-missing-column", {"t.csv": "Time,Size,Offset\n1,2,3\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "csv", "--columns", "timestamp=Time,length=Size"],
     "{d}/t.csv:1: header ['Time', 'Size', 'Offset'] lacks lba=lba"),
    ("csv-ragged-row", {"t.csv": "timestamp,length,lba,latency\n1,2,3,4\n2,2,3,4,5\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "csv"], "{d}/t.csv:3: expected 4 fields, found 5"),
    ("csv-bad-columns-spec", {"t.csv": "a\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "csv", "--columns", "time:Time"],
     "--columns: expected name=Header or name=N (1-based position) with name in timestamp,length,lba,latency,opcode, "
     "got 'time:Time'"),
    ("seed-synth-wrong-width", {"real.txt": GOOD_SEED, "s.txt": "1 2 3\n"},
     ["evaluate", "--real", "{d}/real.txt", "--synthetic", "{d}/s.txt"], "{d}/s.txt:1: expected 4 fields, found 3"),
    ("missing-file", {}, [*TRAIN, "--trace_path", "{d}/nope.txt"], "{d}/nope.txt: no such file"),
    ("trace-is-a-folder", {"sub/x": ""}, [*TRAIN, "--trace_path", "{d}/sub"], "{d}/sub: no such file"),
    # --- feature files -------------------------------------------------------------------
    ("json-ragged", {"f.json": {"features": [[1, 2], [3]], "labels": ["a", "a"]}},
     [*FEAT, "--data", "{d}/f.json"], "{d}/f.json: ragged"),
    ("json-wrong-key", {"f.json": {"vectors": [[1, 2]], "labels": ["a"]}},
     [*FEAT, "--data", "{d}/f.json"], "{d}/f.json: expected keys 'features' (or 'mfcc')"),
    ("json-label-type-mix", {"f.json": {"features": [[1, 2], [2, 3]], "labels": ["a", 1]}},
     [*FEAT, "--data", "{d}/f.json"], "mix types"),
    ("json-one-sample-class", {"f.json": {"features": [[1, 2], [2, 3], [4, 5]], "labels": ["a", "a", "b"]}},
     [*FEAT, "--data", "{d}/f.json"], "fewer than 2 samples: {{'b': 1}}"),
    ("json-nan", {"f.json": _features(nan=True)}, [*FEAT, "--data", "{d}/f.json"], "NaN"),
    ("json-syntax", {"f.json": '{"features": [[1, 2],\n [3, 4]], "labels": ["a" "b"]}'},
     [*FEAT, "--data", "{d}/f.json"], "{d}/f.json:2:26: not valid JSON (Expecting ',' delimiter)"),
    ("csv-features-missing-column", {"f.csv": "mfcc1_mean,label\n1,a\n2,a\n"},
     [*FEAT, "--data", "{d}/f.csv"], "{d}/f.csv:1: header lacks ['mfcc2_mean'"),
    ("csv-features-text-cell", {"f.csv": "mfcc1_mean,label\n1,a\nx1,a\n"},
     [*FEAT, "--data", "{d}/f.csv", "--feature_columns", "mfcc1_mean"], "{d}/f.csv:3:1: cannot parse 'x1'"),
    ("alibaba-unknown-opcode", {"t.csv": "".join(f"3,R,{i * 4096},4096,{i}\n" for i in range(30)) + "3,T,0,4096,99\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "alibaba"],
     "{d}/t.csv:31:2: opcode: 'T' is not one of r, read, w, write"),
    ("alibaba-volumes-unchosen", {"t.csv": "".join(f"{i % 2},R,{i * 4096},4096,{i}\n" for i in range(30))},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "alibaba"],
     "{d}/t.csv: a alibaba trace of 2 volumes; choose with --volume ID[,ID] or --volume all: 0 (15 requests), "
     "1 (15 requests)"),
    ("tencent-missing-volume", {"t.csv": "".join(f"{i},{i * 8},8,0,1283\n" for i in range(30))},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "tencent", "--volume", "7"],
     "{d}/t.csv: no volume 7 in this tencent trace (it has 1283)"),
    ("systor-short-line", {"t.csv": "Timestamp,Response,IOType,LUN,Offset,Size\n1.0,0.001,R,0,4096,4096\n2.0,R\n"},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "systor"], "{d}/t.csv:3: expected 6 fields, found 2"),
    ("oracle-general-cut-short", {"t.bin": bytes(24 * 40 + 7)},
     [*TRAIN, "--trace_path", "{d}/t.bin", "--trace-format", "oracle_general"],
     "{d}/t.bin: 967 bytes is not a whole number of 24-byte oracleGeneral records (record 41 is cut short at byte 960)"),
    ("volume-for-a-format-without-volumes", {"t.txt": GOOD_SEED}, [*TRAIN, "--trace_path", "{d}/t.txt", "--volume", "3"],
     "--volume 3: format 'text6' has no volume column"),
    # --- CLI values ------------------------------------------------------------------------
    ("zero-epochs", {}, [*TRAIN, "--num_epochs", "0"], "num_epochs must be a positive integer, but got num_epochs=0"),
    ("negative-epochs", {}, [*TRAIN, "--num_epochs", "-3"], "num_epochs must be a positive integer, but got num_epochs=-3"),
    ("non-integer-epochs", {}, [*TRAIN, "--num_epochs", "ten"], "'ten' is not a valid integer"),
    ("zero-lr", {}, [*TRAIN, "--lrG", "0"], "lr_g must be > 0"),
    ("negative-lr", {}, [*TRAIN, "--lrD", "-1e-4"], "lr_d must be > 0"),
    ("zero-batch", {}, [*TRAIN, "--batch_size", "0"], "batch_size must be a positive integer"),
    ("seq-len-one", {}, [*TRAIN, "--seq_len", "1"], "seq_len must be at least 2"),
    ("seq-len-beyond-data", {}, [*TRAIN, "--seq_len", "100000"], "fewer than one sequence of seq_len=100000"),
    ("val-fraction-above-one", {}, [*TRAIN, "--val_fraction", "1.5"], "val_fraction must be in [0, 1)"),
    ("unknown-loss", {}, [*TRAIN, "--loss", "hinge"], "loss must be one of bce, wgan-gp, but got 'hinge'"),
    ("unknown-continuous-encoding", {}, [*TRAIN, "--continuous", "box-cox"],
     "continuous must be one of log, quantile, normal, but got 'box-cox'"),
    ("ema-decay-one", {}, [*TRAIN, "--ema", "1"], "ema must be in [0, 1), but got ema=1.0"),
    ("size-coverage-too-low", {}, [*TRAIN, "--size_coverage", "0.2"], "size_coverage must be in [0.5, 1]"),
    ("csv-named-latency-missing", {"t.csv": "timestamp,length,lba\n" + "".join(f"{i},4096,{i}\n" for i in range(40))},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "csv", "--columns", "latency=RT"],
     "{d}/t.csv:1: header ['timestamp', 'length', 'lba'] lacks latency=RT (set --columns)"),
    ("unknown-format", {}, [*TRAIN, "--trace-format", "blktrace"], "'blktrace' is not one of"),
    ("unknown-option", {}, [*TRAIN, "--epochz", "3"], "No such option '--epochz'"),
    ("bad-bandwidth", {}, [*TRAIN, "--bandwidth", "wide"], "--bandwidth must be a number, a comma list"),
    ("bad-device", {}, [*TRAIN, "--device", "tpu"], "--device must be auto, cpu, cuda[:N] or mps"),
    ("negative-entries", {}, [*GEN, "--model", "{trace_model}", "--num_entries", "-1"], "num_entries must be >= 0"),
    ("zero-shards", {}, [*GEN, "--model", "{trace_model}", "--shards", "0"], "shards, streams, workers >= 1, but got n_rows=100, shards=0"),
    ("shards-of-a-stream", {}, [*GEN, "--model", "{trace_model}", "--shards", "2"], "use --streams, not --shards"),
    ("evaluate-sample-one", {"r.txt": GOOD_SEED, "s.txt": "1 2 3 4\n" * 10},
     ["evaluate", "--real", "{d}/r.txt", "--synthetic", "{d}/s.txt", "--sample", "1"], "sample must be >= 2"),
    ("evaluate-empty-synthetic", {"r.txt": GOOD_SEED, "s.txt": ""},
     ["evaluate", "--real", "{d}/r.txt", "--synthetic", "{d}/s.txt"], "{d}/s.txt: no trace rows found"),
    ("evaluate-one-row", {"r.txt": GOOD_SEED, "s.txt": "1 4096 8 100\n"},
     ["evaluate", "--real", "{d}/r.txt", "--synthetic", "{d}/s.txt"], "{d}/s.txt: 1 rows; evaluation needs at least 16"),
    ("evaluate-negative-max-accesses", {"r.txt": GOOD_SEED, "s.txt": "1 4096 8 100\n" * 20},
     ["evaluate", "--real", "{d}/r.txt", "--synthetic", "{d}/s.txt", "--max-accesses", "-5"],
     "max_accesses must be >= 0 (0 = never sample), but got max_accesses=-5"),
    ("augment-custom-without-n", {"f.json": _features()},
     ["augment", "--model", "{feature_model}", "--input", "{d}/f.json", "--output", "{d}/out.json", "--method", "custom"],
     "--method custom needs --target-samples N >= 1, but got None"),
    ("output-exists", {"out.txt": "keep me\n"}, [*GEN, "--model", "{trace_model}"],
     "{d}/out.txt: output exists; pass --overwrite to replace it"),
    ("train-output-exists", {"out.txt": "keep me\n"}, TRAIN, "{d}/out.txt: output exists; pass --overwrite to replace it"),
    ("export-output-exists", {"m.onnx": "keep me\n"}, ["export", "--model", "{trace_model}", "--output", "{d}/m.onnx"],
     "{d}/m.onnx: output exists; pass --overwrite to replace it"),
    ("generate-features-output-exists", {"f.csv": "keep me\n"},
     ["generate-features", "--model", "{feature_model}", "--class", "blues", "--n", "5", "--output", "{d}/f.csv"],
     "{d}/f.csv: output exists; pass --overwrite to replace it"),
    ("sample-trace-output-exists", {"s.txt": "keep me\n"}, ["sample-trace", "--output", "{d}/s.txt"],
     "{d}/s.txt: output exists; pass --overwrite to replace it"),
    ("augment-output-exists", {"f.json": _features(), "out.json": "keep me\n"},
     ["augment", "--model", "{feature_model}", "--input", "{d}/f.json", "--output", "{d}/out.json"],
     "{d}/out.json: output exists; pass --overwrite to replace it"),
    ("output-is-a-folder", {"dir/x": ""}, ["generate", "--model", "{trace_model}", "--output_synth", "{d}/dir", "--no-lineage"],
     "{d}/dir: is a directory; give a file name"),
    ("generate-features-unknown-class", {},
     ["generate-features", "--model", "{feature_model}", "--class", "polka", "--n", "5", "--output", "{d}/f.csv"],
     "unknown class 'polka'; classes: blues, jazz"),
    ("output-under-a-file", {"blocker": "x"},
     ["generate", "--model", "{trace_model}", "--output_synth", "{d}/blocker/out.txt", "--no-lineage"],
     "{d}/blocker/out.txt: {d}/blocker is a file, not a folder"),
    # --- model URIs --------------------------------------------------------------------------
    ("model-missing", {}, [*GEN, "--model", "models:/absent@champion"], "model 'models:/absent@champion' not found"),
    ("model-alias-absent", {}, [*GEN, "--model", "models:/trace-gan@nope"], "model 'models:/trace-gan@nope' not found"),
    ("model-version-absent", {}, [*GEN, "--model", "models:/trace-gan/99"], "model 'models:/trace-gan/99' not found"),
    ("model-run-absent", {}, [*GEN, "--model", "runs:/0123456789abcdef0123456789abcdef/model"],
     "cannot load model 'runs:/0123456789abcdef0123456789abcdef/model': Run with id=0123456789abcdef0123456789abcdef not found"),
    ("model-wrong-kind-for-generate", {}, [*GEN, "--model", "models:/mfcc-wgan-gp@champion"],
     "is a mfcc-wgan-gp model; expected trace-gan or trace-gan-onnx"),
    # --- published formats, volumes, units (issue 15) --------------------------------------
    ("vscsi-truncated-record", {"t.vscsi": _vscsi_v2()[:-9]}, [*TRAIN, "--trace_path", "{d}/t.vscsi", "--trace-format", "vscsi"],
     "{d}/t.vscsi: 1,591 bytes is not a whole number of 40-byte VSCSI v2 records (record 40 is cut short at byte 1,560)"),
    ("vscsi-wrong-record-size", {"t.vscsi": _vscsi_v2()[:400] + b"\x00" * 4 + _vscsi_v2()[404:]},
     [*TRAIN, "--trace_path", "{d}/t.vscsi", "--trace-format", "vscsi"],
     "{d}/t.vscsi: record 11 (byte 400) has version byte 0, not 2 like the first records"),
    ("parquet-unknown-opcode", {"t.parquet": _parquet_bytes(["R"] * 30 + ["Trim"] + ["W"] * 9)},
     [*TRAIN, "--trace_path", "{d}/t.parquet", "--trace-format", "parquet"],
     "{d}/t.parquet: column 'opcode' (opcode): row 31 holds 'trim', not R/W"),
    ("msr-missing-volume", {"t.csv": GOOD_MSR}, [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr", "--volume", "web_3"],
     "{d}/t.csv: no volume web_3 in this msr trace (it has web_0)"),
    ("msr-unit-mismatch", {"t.csv": GOOD_MSR},
     [*TRAIN, "--trace_path", "{d}/t.csv", "--trace-format", "msr", "--time_unit", "us"],
     "--time_unit us: a msr trace's times are in 100ns, not us"),
    ("text-without-column-map", {"t.txt": GOOD_SEED}, [*TRAIN, "--trace_path", "{d}/t.txt", "--trace-format", "text"],
     "{d}/t.txt: the text format needs a column map, by position (--columns timestamp=1,length=2,lba=3"),
    ("xz-truncated", {"t.csv.xz": __import__("lzma").compress(GOOD_MSR.encode() * 20)[:150]},
     [*TRAIN, "--trace_path", "{d}/t.csv.xz", "--trace-format", "msr"], "cannot read the file (EOFError: Compressed file ended"),
    ("model-wrong-kind-for-augment", {"f.json": _features()},
     ["augment", "--model", "models:/trace-gan@champion", "--input", "{d}/f.json", "--output", "{d}/out.json"],
     "is a trace-gan model; expected mfcc-wgan-gp"),
    ("model-folder-not-a-model", {"m/readme.txt": "hi"}, [*GEN, "--model", "{d}/m"], "not a saved synthesizer folder"),
    ("model-onnx-garbage", {"m.onnx": b"\x00not onnx"}, [*GEN, "--model", "{d}/m.onnx"], "{d}/m.onnx: not a readable ONNX model"),
    ("resume-unknown-run", {}, ["train", "--resume", "0123456789abcdef0123456789abcdef"],
     "--resume 0123456789abcdef0123456789abcdef: no such run"),
    ("resume-finished-run", {}, ["train", "--resume", "{finished_run}"], "the run finished; nothing to resume"),
]


def _write(folder: Path, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            path.write_text(json.dumps(content))
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _ganflow(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganflow", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def _runs(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT run_uuid, status FROM runs").fetchall()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite tracking store with a registered trace GAN and feature GAN (one epoch each)."""
    root = tmp_path_factory.mktemp("store")
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}"}
    env.pop("MLFLOW_RUN_ID", None)
    res = _ganflow(["train", "--num_epochs", "1", "--hidden_dim", "8", "--latent_dim", "4", "--register_as", "trace-gan",
                    "--plots", "false"], env, root)
    assert res.returncode == 0, res.stderr
    finished = re.search(r"run ([0-9a-f]{32})", res.stderr)[1]
    _write(root, {"f.json": _features()})
    res = _ganflow(["train-features", "--data", "f.json", "--epochs", "1"], env, root)
    assert res.returncode == 0, res.stderr
    return {"root": root, "env": env, "trace_model": "models:/trace-gan@champion",
            "feature_model": "models:/mfcc-wgan-gp@champion", "finished_run": finished}


@pytest.mark.parametrize(("files", "argv", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(store, tmp_path, files, argv, fragment):
    _write(tmp_path, files)
    before_files = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    before_bytes = {p: (tmp_path / p).read_bytes() for p in before_files if (tmp_path / p).is_file()}
    before_runs = _runs(store["root"] / "mlflow.db")
    values = {k: v for k, v in store.items() if isinstance(v, str)}
    res = _ganflow([a.format(d=tmp_path, **values) for a in argv], store["env"], tmp_path)

    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2, res.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert fragment.format(d=tmp_path) in lines[0]
    assert "Traceback" not in res.stderr + res.stdout
    # no output, no temporary, nothing changed: the folder holds exactly what the case wrote
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before_files
    assert {p: (tmp_path / p).read_bytes() for p in before_bytes} == before_bytes
    # no run was created, and none is RUNNING
    after = _runs(store["root"] / "mlflow.db")
    assert after == before_runs and all(status != "RUNNING" for _, status in after)


def test_the_campaign_is_at_least_thirty_distinct_cases():
    ids = [c[0] for c in CASES]
    assert len(set(ids)) == len(ids) >= 30
