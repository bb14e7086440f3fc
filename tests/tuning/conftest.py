"""Real PostgreSQL (a private cluster: initdb + pg_ctl as the postgres user, 127.0.0.1, free port)
and a real ``mlflow server`` on it. CI installs PostgreSQL from Debian packages."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import free_port, run_mlflow_server


def _pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else (Path(shutil.which("initdb")).parent if shutil.which("initdb") else None)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (CI installs it: apt-get install -y postgresql)")
    root = Path(tempfile.mkdtemp(prefix="ganflow-pg-"))
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chmod(root, 0o755)
        os.chown(root, pw.pw_uid, pw.pw_gid)
    data, port = root / "data", free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"]),
                   check=True, capture_output=True)
    subprocess.run(_as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "-t", "60",
                                 "-o", f"-p {port} -h 127.0.0.1 -k {root} -c max_connections=200", "start"]),
                   check=True, capture_output=True)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            for db in ("mlflow", "optuna"):
                cur.execute(f"CREATE DATABASE {db}")
        conn.close()
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}"
    finally:
        os.kill(pid, signal.SIGINT)  # fast shutdown, by PID
        for _ in range(100):
            try:
                os.kill(pid, 0)
                time.sleep(0.1)
            except ProcessLookupError:
                break
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_mlflow_server(postgres, tmp_path_factory):
    """``mlflow server`` with the PostgreSQL backend store, on 127.0.0.1."""
    yield from run_mlflow_server(f"{postgres}/mlflow", tmp_path_factory.mktemp("pgserver"), workers=2)
