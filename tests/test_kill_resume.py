"""Faults injected into real processes: SIGKILL during ``train`` and ``generate``, and the
tracking server killed mid-run. Nothing may be lost beyond one checkpoint interval, no partial
output may appear, and a resumed run must end with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import run_mlflow_server

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

# small and slow enough per epoch (batch 16) that a kill lands mid-training
TRAIN = ["train", "--num_epochs", "8", "--hidden_dim", "16", "--latent_dim", "4", "--batch_size", "16",
         "--checkpoint_every", "1", "--eval_every", "0", "--plots", "false", "--seed", "3"]


def _env(uri: str, **extra: str) -> dict:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, **extra}
    env.pop("MLFLOW_RUN_ID", None)
    return env


def _ganflow(args, env, cwd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ganflow", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=600, **kw)


def _start(args, env, cwd) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "ganflow", *args], env=env, cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(pattern: str, root: Path, proc: subprocess.Popen, timeout: float = 180) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(root.glob(pattern))
        if found:
            return found[0]
        assert proc.poll() is None, f"process ended before {pattern} appeared: {proc.communicate()}"
        time.sleep(0.02)
    raise TimeoutError(pattern)


def _run_status(db: Path, run_id: str) -> str:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT status FROM runs WHERE run_uuid = ?", (run_id,)).fetchone()[0]


def _final_state(folder: Path) -> dict:
    return torch.load(folder / "checkpoints" / "checkpoint_epoch_8.pt", weights_only=True)


def _assert_same_state(a, b, path="state") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_state(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    elif isinstance(a, list) and path.endswith("history"):
        assert [{k: v for k, v in h.items() if k != "seconds"} for h in a] == \
               [{k: v for k, v in h.items() if k != "seconds"} for h in b], path
    elif isinstance(a, (list, tuple)):  # e.g. the fake streams' carried LSTM states (join_windows 0)
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_state(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_sigkill_during_train_then_resume_gives_the_uninterrupted_weights(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'mlflow.db'}")
    victim = _start([*TRAIN, "--save_dir", "killed"], env, tmp_path)
    _wait_for("killed/trace_gan_*/checkpoints/checkpoint_epoch_3.pt", tmp_path, victim)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    folder = next((tmp_path / "killed").glob("trace_gan_*"))
    run_id = folder.name.removeprefix("trace_gan_")
    assert not (folder / "checkpoints" / "checkpoint_epoch_8.pt").exists()
    assert _run_status(tmp_path / "mlflow.db", run_id) == "RUNNING"  # a SIGKILL ends nothing

    resumed = _ganflow(["train", "--resume", run_id, "--save_dir", "killed", "--checkpoint_every", "1",
                        "--eval_every", "0", "--plots", "false"], env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id}: 8 epochs" in resumed.stderr
    assert _run_status(tmp_path / "mlflow.db", run_id) == "FINISHED"
    with sqlite3.connect(tmp_path / "mlflow.db") as con:
        tag = con.execute("SELECT value FROM tags WHERE run_uuid = ? AND key = 'resumed_from'", (run_id,)).fetchone()[0]
    assert re.fullmatch(r"checkpoint_epoch_[3-7]\.pt", tag)  # lost at most one interval (1 epoch)

    whole = _ganflow([*TRAIN, "--save_dir", "whole"], env, tmp_path)
    assert whole.returncode == 0, whole.stderr
    _assert_same_state(_final_state(folder), _final_state(next((tmp_path / "whole").glob("trace_gan_*"))))


def test_sigkill_during_generate_leaves_no_output_and_a_rerun_completes(tmp_path):
    env = _env(f"sqlite:///{tmp_path / 'mlflow.db'}")
    trained = _ganflow(["train", "--num_epochs", "1", "--hidden_dim", "8", "--latent_dim", "4", "--plots", "false",
                        "--save_dir", "ck"], env, tmp_path)
    assert trained.returncode == 0, trained.stderr
    model = next((tmp_path / "ck").glob("trace_gan_*/model"))
    args = ["generate", "--model", str(model), "--num_entries", "3000000", "--output_synth", "out/t.txt", "--no-lineage"]
    victim = _start(args, env, tmp_path)
    temp = _wait_for("out/.t.txt.ganflow-*.tmp", tmp_path, victim)
    while temp.stat().st_size < 1_000_000 and victim.poll() is None:
        time.sleep(0.01)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert not (tmp_path / "out" / "t.txt").exists()
    assert temp.exists()  # only the hidden temporary is left by the kill

    rerun = _ganflow(args, env, tmp_path)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["t.txt"]  # the stale temporary was swept
    with open(tmp_path / "out" / "t.txt", "rb") as fh:
        assert sum(block.count(b"\n") for block in iter(lambda: fh.read(1 << 20), b"")) == 3_000_000


def test_tracking_server_lost_mid_run_keeps_local_checkpoints_and_resumes(tmp_path):
    backend = f"sqlite:///{tmp_path / 'server.db'}"
    server = run_mlflow_server(backend, tmp_path)
    uri = next(server)
    env = _env(uri, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="10")
    args = ["train", "--num_epochs", "12", "--hidden_dim", "16", "--latent_dim", "4", "--batch_size", "16",
            "--checkpoint_every", "2", "--eval_every", "0", "--plots", "false", "--save_dir", "ck"]
    train = _start(args, env, tmp_path)
    _wait_for("ck/trace_gan_*/checkpoints/checkpoint_epoch_4.pt", tmp_path, train)
    next(server, None)  # stops the server (by PID): the tracking server is gone mid-run
    _, err = train.communicate(timeout=300)
    lines = [line for line in err.splitlines() if line.strip()]
    assert train.returncode == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    m = re.search(r"run ([0-9a-f]{32}) stopped after epoch (\d+): .*; checkpoints up to epoch (\d+) are in (\S+); "
                  r"continue with: ganflow train --resume \1$", lines[0])
    assert m, lines[0]
    run_id, stopped, kept, folder = m[1], int(m[2]), int(m[3]), Path(m[4])
    assert stopped - kept < 2  # at most one checkpoint interval lost
    assert (tmp_path / folder / f"checkpoint_epoch_{kept}.pt").is_file()  # relative folders are under cwd

    server = run_mlflow_server(backend, tmp_path)  # the server comes back (same store)
    uri = next(server)
    try:
        resumed = _ganflow(["train", "--resume", run_id, "--save_dir", "ck", "--checkpoint_every", "2",
                            "--eval_every", "0", "--plots", "false"], _env(uri), tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert f"run {run_id}: 12 epochs" in resumed.stderr
        import mlflow

        run = mlflow.MlflowClient(uri).get_run(run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["resumed_from"] == f"checkpoint_epoch_{kept}.pt"
    finally:
        next(server, None)
