"""Shared fixtures: an isolated MLflow store per test, sample trace files, tiny configs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"


@pytest.fixture
def tracking_uri(tmp_path, monkeypatch) -> str:
    """A fresh embedded SQLite tracking store; artifacts under tmp_path."""
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("MLFLOW_RUN_ID", raising=False)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(uri)
    yield uri
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)


@pytest.fixture(scope="session")
def sample_frame():
    from training.sample import make_sample_trace

    return make_sample_trace(3000, seed=1)


@pytest.fixture(scope="session")
def sample_file(tmp_path_factory, sample_frame) -> Path:
    from serving.writers import write_trace_frame

    return write_trace_frame(sample_frame, tmp_path_factory.mktemp("data") / "sample.txt", "text6")


@pytest.fixture
def tiny_config():
    from training.config import TraceGANConfig

    return TraceGANConfig(num_epochs=2, batch_size=32, hidden_dim=16, latent_dim=4, seq_len=8, seed=7)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening_addresses(port: int) -> set[str]:
    """The local addresses with a socket listening on ``port`` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if int(p, 16) != port or state != "0A":  # 0A = LISTEN
                continue
            if width == 8:
                found.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(addr)[::-1]))
            else:
                raw = b"".join(bytes.fromhex(addr[i:i + 8])[::-1] for i in range(0, 32, 8))
                found.add(socket.inet_ntop(socket.AF_INET6, raw))
    return found


def wait_http(url: str, *, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before answering {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer in {timeout}s")


def stop_process(proc: subprocess.Popen) -> None:
    """Stop a server started with start_new_session=True: its whole process group, by PID."""
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)


def run_mlflow_server(backend: str, workdir: Path, *, workers: int = 1):
    """Start ``mlflow server`` on 127.0.0.1:free port; yields its URL; stops it by PID."""
    port = free_port()
    log = open(workdir / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", backend, "--artifacts-destination", str(workdir / "artifacts"), "--workers", str(workers)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=workdir)
    try:
        wait_http(f"http://127.0.0.1:{port}/health", timeout=120, proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_process(proc)
        log.close()


@pytest.fixture
def mlflow_server(tmp_path):
    """A real ``mlflow server`` (SQLite backend, local artifact root) on 127.0.0.1:free port."""
    yield from run_mlflow_server(f"sqlite:///{tmp_path / 'server.db'}", tmp_path)
