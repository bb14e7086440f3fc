from __future__ import annotations

import logging
import subprocess
import sys

import mlflow
import numpy as np
import pytest
from click.testing import CliRunner

from ganflow.cli import main
from training.readers import read_trace

TINY = ["--num_epochs", "1", "--hidden_dim", "8", "--latent_dim", "4", "--seq_len", "8", "--batch_size", "64"]


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_help_is_instant_and_imports_no_torch():
    code = "import sys; from ganflow.cli import main; print('torch' in sys.modules, 'mlflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_train_register_then_generate_by_alias(tracking_uri, tmp_path, sample_file, caplog):
    out = tmp_path / "synth.txt"
    res = invoke("train", "--trace_path", str(sample_file), *TINY, "--lrG", "1e-4", "--lrD", "2e-4",
                 "--d_updates", "2", "--g-updates", "1", "--register_as", "trace-gan",
                 "--output_synth", str(out), "--num_entries", "1000", "--save_dir", str(tmp_path / "ck"))
    assert res.exit_code == 0, res.output
    assert "registered models:/trace-gan/1 @champion" in res.output
    assert len(out.read_text().splitlines()) == 1000

    run = mlflow.search_runs(experiment_names=["trace-gan"], output_format="list")[0]
    assert run.info.status == "FINISHED"
    assert run.data.params["lr_g"] == "0.0001" and run.data.params["d_updates"] == "2"
    assert run.data.params["distinct_timestamps"] == "3000"
    client = mlflow.MlflowClient()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "d_loss")] == [1]
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"scaler.json", "checkpoints", "training_history.json", "fidelity.json", "plots"} <= artifacts
    assert {a.path for a in client.list_artifacts(run.info.run_id, "plots")} == {
        "plots/losses.png", "plots/cdf.png", "plots/acf.png", "plots/miss_ratio_curves.png", "plots/sizes.png",
        "plots/iops.png"}
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_mmd2")] == [1]
    assert {"score_hrc_mae", "score_reuse_rate", "score_size_tv", "score_detection_12", "score_composite"} \
        <= set(run.data.metrics)
    assert not [k for k in run.data.metrics if k.startswith("final_")]
    assert run.data.tags["scorecard"].endswith("of the real-vs-real floor") or "furthest" in run.data.tags["scorecard"]
    assert [a.path for a in client.list_artifacts(run.info.run_id, "checkpoints")] == ["checkpoints/checkpoint_epoch_1.pt"]
    version = client.get_model_version_by_alias("trace-gan", "champion")
    assert version.tags["epochs"] == "1" and version.tags["model_epoch"] == "1" and len(version.tags["data_sha256"]) == 64

    gen = tmp_path / "gen.csv"
    res = invoke("generate", "--model", "models:/trace-gan@champion", "--num_entries", "2500",
                 "--output_synth", str(gen), "--format", "csv", "--seed", "3")
    assert res.exit_code == 0, res.output
    assert "times in the file's ticks (100 ns in the reference recipe's MSR data) (ganflow evaluate " \
           "--synthetic-time-unit 100ns" in res.output  # the sample (text6): a CSV cannot say its unit
    lines = gen.read_text().splitlines()
    assert lines[0] == "timestamp,length,lba,latency,opcode" and len(lines) == 2501
    assert {line.rsplit(",", 1)[1] for line in lines[1:]} <= {"R", "W"}
    again = tmp_path / "again.csv"
    invoke("generate", "--model", "models:/trace-gan/1", "--num-entries", "2500", "--output-synth", str(again),
           "--format", "csv", "--seed", "3")
    assert again.read_text() == gen.read_text()
    msr = tmp_path / "gen.msr.csv"  # a published layout, for a simulator or trace tool: reads back as written
    with caplog.at_level(logging.WARNING, logger="serving.writers"):
        res = invoke("generate", "--model", "models:/trace-gan/1", "--num-entries", "2500", "--output-synth", str(msr),
                     "--format", "msr", "--seed", "3")
    assert res.exit_code == 0 and "times in" not in res.output, res.output
    assert caplog.text.count("taken as 100 ns each for msr") == 1  # the sample's (text6) unit is assumed, and said
    back, rows = read_trace(msr, "msr"), np.loadtxt(gen, delimiter=",", skiprows=1, usecols=(0, 1, 2, 3))
    np.testing.assert_array_equal(back.length, rows[:, 1])
    np.testing.assert_array_equal(back.timestamp, (rows[:, 0] - rows[0, 0]) * 100)  # the sample's 100-ns ticks, in ns

    # a second registration becomes the challenger, not the champion
    res = invoke("train", "--trace_path", str(sample_file), *TINY, "--register_as", "trace-gan",
                 "--save_dir", str(tmp_path / "ck"))
    assert "registered models:/trace-gan/2 @challenger" in res.output


def test_train_on_bundled_sample_without_trace_path(tracking_uri, tmp_path):
    res = invoke("train", *TINY, "--save_dir", str(tmp_path / "ck"), "--experiment", "exp-a")
    assert res.exit_code == 0, res.output
    assert "20000 rows, 19999 distinct timestamps" in res.output  # the bundled sample is deterministic
    run = mlflow.search_runs(experiment_names=["exp-a"], output_format="list")[0]
    assert run.data.params["data_source"].startswith("sample(")


@pytest.mark.parametrize(("args", "fragment"), [
    (["--trace_path", "nope.txt"], "nope.txt: no such file"),
    (["--num_epochs", "0"], "num_epochs must be a positive integer"),
    (["--lrG", "-1"], "lr_g must be > 0"),
    (["--seq_len", "100000"], "fewer than one sequence of seq_len=100000"),
])
def test_bad_input_one_line_exit_2_no_run(tracking_uri, tmp_path, args, fragment):
    res = CliRunner().invoke(main, ["train", *args, "--output_synth", str(tmp_path / "o.txt")])
    assert res.exit_code == 2
    assert fragment in res.output and "Traceback" not in res.output
    assert len([line for line in res.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "o.txt").exists()
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []


def test_unparsable_number_names_location(tracking_uri, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("0 1 Read 4096 8 10\n0 2 Read 4096 8 1O\n")
    res = CliRunner().invoke(main, ["train", "--trace_path", str(bad)])
    assert res.exit_code == 2
    assert f"{bad}:2:6: latency: cannot parse '1O' as a number" in res.output


def test_generate_missing_model_is_one_line(tracking_uri, tmp_path):
    res = CliRunner().invoke(main, ["generate", "--model", "models:/absent@champion", "--output_synth",
                                    str(tmp_path / "o.txt")])
    assert res.exit_code == 2 and "model 'models:/absent@champion' not found" in res.output
    assert not (tmp_path / "o.txt").exists()


def test_failure_inside_run_marks_it_failed(tracking_uri, tmp_path, sample_file, monkeypatch):
    import training.synthesizer as synth_mod

    def boom(self, *a, **k):
        raise synth_mod.ModelError("disk full while fitting")

    monkeypatch.setattr(synth_mod.Synthesizer, "fit", boom)
    res = CliRunner().invoke(main, ["train", "--trace_path", str(sample_file), *TINY])
    assert res.exit_code == 2 and "disk full while fitting" in res.output
    run = mlflow.search_runs(experiment_names=["trace-gan"], output_format="list")[0]
    assert run.info.status == "FAILED" and "disk full" in run.data.tags["error"]


def test_sample_trace_command(tmp_path):
    res = invoke("sample-trace", "--output", str(tmp_path / "s.csv"), "--rows", "500", "--format", "msr")
    assert res.exit_code == 0
    f = read_trace(tmp_path / "s.csv", "msr")
    assert len(f) == 500 and np.all(np.diff(f.timestamp) >= 0)


def _synth_files(tmp_path, sample_frame):
    from serving.writers import open_writer, write_trace_frame
    from training.sample import make_sample_trace

    real = write_trace_frame(sample_frame, tmp_path / "real.txt", "text6")
    other = make_sample_trace(len(sample_frame), seed=11)
    with open_writer(tmp_path / "synth.txt", "text4") as w:
        w.write(other.values())
    return real, tmp_path / "synth.txt"


def test_evaluate_table_and_json(tmp_path, sample_frame):
    import json

    real, synth = _synth_files(tmp_path, sample_frame)
    res = invoke("evaluate", "--real", str(real), "--synthetic", str(synth), "--sample", "2000")
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].startswith("real 3,000 rows vs synthetic 3,000 rows")
    assert lines[1].split()[:7] == ["metric", "real", "synthetic", "error", "floor", "marginals", "ok"]
    groups = [line for line in lines if line.startswith("[")]
    assert groups == ["[locality]", "[sizes and ops]", "[timing]", "[detection]", "[rows]"]
    assert any(line.startswith("hrc_mae_lru ") for line in lines) and lines[-2].startswith("verdict: ")
    res = invoke("evaluate", "--real", str(real), "--synthetic", str(synth), "--sample", "2000", "--json",
                 "--bandwidth", "multi", "--no-detection")
    report = json.loads(res.output)
    rows, card = report["rows"], report["scorecard"]
    for key in ("mmd2", "mmd2_floor", "mmd2_marginals", "bandwidth", "n_real", "n_synthetic", "ks_lba", "w1_length"):
        assert key in rows
    assert rows["bandwidth"] == [0.1, 0.5, 1.0, 2.0, 5.0] and rows["n_real"] == 3000
    assert "acf_err" not in rows and "detection_12" not in card["metrics"]
    assert card["n_real"] == 3000 and card["metrics"]["read_fraction"]["synthetic"] is None  # seed_synth: no opcode


def test_evaluate_logs_a_run(tracking_uri, tmp_path, sample_frame):
    real, synth = _synth_files(tmp_path, sample_frame)
    import json

    res = invoke("evaluate", "--real", str(real), "--synthetic", str(synth), "--sample", "1000", "--no-detection",
                 "--log-run")
    assert res.exit_code == 0 and "logged run" in res.output
    run = mlflow.search_runs(experiment_names=["trace-gan-eval"], output_format="list")[0]
    report = json.loads(invoke("evaluate", "--real", str(real), "--synthetic", str(synth), "--sample", "1000",
                               "--no-detection", "--json").output)
    assert run.data.metrics["score_hrc_mae"] == pytest.approx(report["scorecard"]["metrics"]["hrc_mae"]["error"],
                                                              rel=1e-12)
    assert run.data.metrics["rows_mmd2"] == pytest.approx(report["rows"]["mmd2"], rel=1e-12)
    assert "rows_mmd2_floor" in run.data.metrics and run.data.params["bandwidth"] == "1.0"
    plots = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "plots")}
    assert plots == {"plots/miss_ratio_curves.png", "plots/sizes.png",
        "plots/iops.png"}


def test_evaluate_time_units_of_the_two_files(tmp_path, sample_frame, caplog):
    """One trace as an MSR file (100-ns FILETIME, read as ns) and as text6 (ticks as read): the
    timing lines compare different units unless the text file's unit is given, and they say so."""
    import json
    import logging

    from serving.writers import write_trace_frame
    from training.evaluation import evaluate_files
    from training.readers import read_trace

    real = write_trace_frame(sample_frame, tmp_path / "real.csv", "msr")
    synth = write_trace_frame(sample_frame, tmp_path / "synth.txt", "text6")  # the sample's ticks are 100 ns
    with caplog.at_level(logging.WARNING, logger="ganflow.evaluation"):
        card = evaluate_files(str(real), "msr", str(synth), "text6", sample=500, detection=False)["scorecard"]
    assert card["metrics"]["interarrival_ks"]["error"] > 0.5  # every gap 100x off (0.87 here)
    assert "synth.txt states no time unit and" in caplog.text and "is 1/100 of the real's" in caplog.text
    assert "pass --synthetic-time-unit" in caplog.text
    caplog.clear()
    ns = write_trace_frame(read_trace(str(real), "msr"), tmp_path / "ns.txt", "text6")  # the same times, in ns
    with caplog.at_level(logging.WARNING, logger="ganflow.evaluation"):
        card = evaluate_files(str(real), "msr", str(ns), "text6", sample=500, detection=False)["scorecard"]
    assert card["metrics"]["interarrival_ks"]["error"] < 1e-3 and "states no time unit" not in caplog.text
    res = invoke("evaluate", "--real", str(real), "--real-format", "msr", "--synthetic", str(synth),
                 "--synthetic-format", "text6", "--synthetic-time-unit", "100ns", "--sample", "500", "--no-detection",
                 "--json")
    metrics = json.loads(res.output)["scorecard"]["metrics"]
    assert metrics["interarrival_ks"]["error"] < 1e-3 and metrics["latency_ks"]["error"] < 1e-3  # the same trace
    assert "states no time unit" not in caplog.text


def test_evaluate_bad_input(tmp_path, sample_frame):
    real, _ = _synth_files(tmp_path, sample_frame)
    res = CliRunner().invoke(main, ["evaluate", "--real", str(real), "--synthetic", str(tmp_path / "none.txt")])
    assert res.exit_code == 2 and "none.txt: no such file" in res.output
    res = CliRunner().invoke(main, ["evaluate", "--real", str(real), "--synthetic", str(real), "--real-format", "text6",
                                    "--synthetic-format", "text6", "--bandwidth", "-1"])
    assert res.exit_code == 2 and "bandwidth values must be finite and > 0, but got '-1'" in res.output


def test_sort_by_time_trains_on_an_unordered_trace(tracking_uri, tmp_path, sample_frame):
    from serving.writers import write_trace_frame

    ordered = write_trace_frame(sample_frame, tmp_path / "ordered.txt", "text6")
    lines = ordered.read_text().splitlines(keepends=True)
    lines[10], lines[11] = lines[11], lines[10]
    if lines[10] == lines[11]:
        pytest.skip("swapped identical lines")
    (tmp_path / "unordered.txt").write_text("".join(lines))
    common = ["train", "--trace_path", str(tmp_path / "unordered.txt"), *TINY, "--save_dir", str(tmp_path / "ck")]
    refused = CliRunner().invoke(main, common)
    assert refused.exit_code == 2 and "unordered.txt:12:2: timestamp" in refused.output
    res = invoke(*common, "--sort_by_time", "true")
    assert res.exit_code == 0, res.output
    run = mlflow.search_runs(experiment_names=["trace-gan"], output_format="list")[0]
    assert run.data.params["sort_by_time"] == "True" and run.info.status == "FINISHED"


def test_inspect_profiles_a_trace(tmp_path, sample_frame):
    import json

    from serving.writers import write_trace_frame

    path = write_trace_frame(sample_frame, tmp_path / "t.txt", "text6")
    res = invoke("inspect", str(path))
    assert res.exit_code == 0, res.output
    lines = {line[:19].strip(): line[19:] for line in res.output.splitlines()}
    assert lines["rows"].startswith(f"{len(sample_frame):,}") and lines["columns"].endswith("opcode")
    report = json.loads(invoke("inspect", str(path), "--json", "--max_lines", "100").output)
    assert report["rows"] == 100 and 0 <= report["reuse_rate"] <= 1 and report["footprint_pages"] > 0
    assert report["read_fraction"] == pytest.approx(float((sample_frame.opcode[:100] == 0).mean()))
    op = sample_frame.opcode[:100]
    assert report["op_repeat"] == pytest.approx(float((op[1:] == op[:-1]).mean()))
    assert report["read_phase_sd"] is None  # 100 rows: not two whole 256-request windows
    n = len(sample_frame) // 256  # the whole file's windows, as the text line says
    reads = (sample_frame.opcode[:n * 256] == 0).reshape(n, 256).mean(1)
    assert f"(sd {np.std(reads):.2f} over 256-request windows" in lines["read fraction"]
    assert lines["runs"].endswith("its opcode") and "of requests have the previous one's size" in lines["runs"]
    res = CliRunner().invoke(main, ["inspect", str(tmp_path / "none.txt")])
    assert res.exit_code == 2 and "none.txt: no such file" in res.output
    ali = tmp_path / "ali.csv"  # a published format: its units, and volumes to choose
    ali.write_text("".join(f"{i % 2},{'RW'[i % 3 == 0]},{i * 4096},4096,{1_600_000_000_000_000 + 10 * i}\n"
                           for i in range(50)))
    res = CliRunner().invoke(main, ["inspect", str(ali), "--format", "alibaba"])
    assert res.exit_code == 2 and "0 (25 requests), 1 (25 requests)" in res.output
    report = json.loads(invoke("inspect", str(ali), "--format", "alibaba", "--volume", "1", "--json").output)
    assert report["rows"] == 25 and report["units"]["timestamp"] == "ns" and report["units"]["source_time_unit"] == "us"
    assert report["time_span_s"] == pytest.approx(4.8e-4)
    assert report["columns"] == ["timestamp", "length", "lba", "opcode"]  # no latency in this format


@pytest.mark.parametrize("drop", ["latency", "opcode"])
def test_a_trace_without_a_column_trains_and_generates_without_it(tracking_uri, tmp_path, sample_frame, drop):
    import pyarrow.parquet as pq

    keep = [c for c in ("timestamp", "length", "lba", "latency", "opcode") if c != drop]
    values = {"timestamp": sample_frame.timestamp, "length": sample_frame.length.astype(np.int64),
              "lba": sample_frame.lba.astype(np.int64), "latency": sample_frame.latency.astype(np.int64),
              "opcode": np.where(sample_frame.opcode == 1, "W", "R")}
    trace = tmp_path / "trace.csv"
    trace.write_text(",".join(keep) + "\n" + "".join(",".join(str(values[c][i]) for c in keep) + "\n"
                                                     for i in range(len(sample_frame))))
    out = tmp_path / "out.csv"
    res = invoke("train", "--trace_path", str(trace), "--trace_format", "csv", *TINY, "--register_as", "m",
                 "--output_synth", str(out), "--output_format", "csv", "--save_dir", str(tmp_path / "ck"))
    assert res.exit_code == 0, res.output
    lines = out.read_text().splitlines()
    assert lines[0] == ",".join(keep) and len(lines) == 100_001
    back = read_trace(out, "csv")  # ganflow reads its own output back
    assert (back.opcode >= 0).all() if drop == "latency" else (back.opcode == -1).all()
    # one epoch: the "other" size category is still common, but it decodes to the trace's alignment
    assert np.all(back.length % 4096 == 0) and np.isin(back.length, np.unique(sample_frame.length)).mean() > 0.5
    pq_out = tmp_path / "out.parquet"
    res = invoke("generate", "--model", "models:/m@champion", "--num_entries", "5000", "--output_synth", str(pq_out),
                 "--format", "parquet")
    assert res.exit_code == 0, res.output
    assert pq.read_schema(pq_out).names == keep
    res = CliRunner().invoke(main, ["generate", "--model", "models:/m@champion", "--output_synth",
                                    str(tmp_path / "m.txt"), "--format", "mqsim"])  # a CSV's time unit is unknown
    assert res.exit_code == 2 and "train it with --time_unit" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "m.txt").exists()
