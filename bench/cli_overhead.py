"""Where the seconds of a small ``generate`` go: wall time of ``ganflow generate --num_entries 1000``
for a torch model and its ONNX export, against ``python -c "import torch, mlflow"`` in the same run.

A tiny model is trained and exported once into a throw-away SQLite store; each command then runs
``--rounds`` times in alternation (medians reported), with the registry read two ways: the SQLite
file directly (MLflow's default store: the client imports SQLAlchemy and Alembic and opens the
database itself) and through an ``mlflow server`` on 127.0.0.1 over the same file (the client
speaks REST). ``generate_onnx_file`` reads the exported ``.onnx`` file itself (no registry).
Targets: the ONNX path <= 3 s, the torch path <= 1.2x the bare imports.

Usage: python bench/cli_overhead.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def _run(cmd: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def _server(tmp: str) -> tuple[subprocess.Popen, str]:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([PY, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
                             "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db", "--workers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(url + "/health", timeout=1).read()
            return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("mlflow server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        ganflow = [PY, "-m", "ganflow", "-q"]
        sample = str(Path(tmp) / "s.txt")
        for cmd in (["sample-trace", "--output", sample, "--rows", "3000"],
                    ["train", "--trace_path", sample, "--num_epochs", "1", "--register_as", "tg", "--plots", "false",
                     "--save_dir", f"{tmp}/ck", "--system_metrics", "false"],
                    ["export", "--model", "models:/tg@champion"]):
            subprocess.run(ganflow + cmd, env=env, check=True, capture_output=True, cwd=tmp)
        out = str(Path(tmp) / "o.txt")
        cases = {
            "bare_imports": [PY, "-c", "import torch, mlflow"],
            "generate_torch": ganflow + ["generate", "--model", "models:/tg@champion", "--num_entries", "1000",
                                         "--output_synth", out, "--overwrite"],
            "generate_onnx": ganflow + ["generate", "--model", "models:/tg-onnx@champion", "--num_entries", "1000",
                                        "--output_synth", out, "--overwrite"],
            "generate_onnx_no_lineage": ganflow + ["generate", "--model", "models:/tg-onnx@champion", "--num_entries",
                                                   "1000", "--output_synth", out, "--overwrite", "--no-lineage"],
        }
        onnx_file = next(Path(tmp).rglob("*.onnx"))
        cases["generate_onnx_file"] = ganflow + ["generate", "--model", str(onnx_file), "--num_entries", "1000",
                                                 "--output_synth", out, "--overwrite", "--no-lineage"]
        proc, url = _server(tmp)
        try:
            server_env = {**env, "MLFLOW_TRACKING_URI": url}
            times = {k: [] for k in cases} | {f"{k}_via_server": [] for k in cases if k.startswith("generate_")
                                               and k != "generate_onnx_file"}
            for _ in range(args.rounds):
                for name, cmd in cases.items():
                    times[name].append(round(_run(cmd, env), 2))
                    if f"{name}_via_server" in times:
                        times[f"{name}_via_server"].append(round(_run(cmd, server_env), 2))
        finally:
            proc.terminate()
            proc.wait(30)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"seconds": times, "median_s": med,
                      "torch_vs_bare_imports": round(med["generate_torch"] / med["bare_imports"], 2),
                      "torch_via_server_vs_bare_imports": round(med["generate_torch_via_server"] / med["bare_imports"], 2)}))


if __name__ == "__main__":
    main()
