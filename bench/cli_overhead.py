"""Where the seconds of a small ``generate`` go: wall time of ``ganflow generate --num_entries 1000``
for a torch model and its ONNX export, against ``python -c "import torch, mlflow"`` in the same run.

A tiny model is trained and exported once into a throw-away SQLite store; each command then runs
``--rounds`` times in alternation (medians reported). Targets: the ONNX path <= 3 s, the torch
path <= 1.2x the bare imports.

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
        times = {k: [] for k in cases}
        for _ in range(args.rounds):
            for name, cmd in cases.items():
                times[name].append(round(_run(cmd, env), 2))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(json.dumps({"seconds": times, "median_s": med,
                      "torch_vs_bare_imports": round(med["generate_torch"] / med["bare_imports"], 2)}))


if __name__ == "__main__":
    main()
