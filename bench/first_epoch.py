"""From a trace file to the first training epoch: how long ``ganflow train`` takes before its first
optimizer step on a large trace (target: the 10M-row MSR trace in <= 60 s on 2 cores).

The file is an MSR Cambridge CSV made from the shared web0 trace as ``bench/read_speed.py`` makes
it (time-shifted copies). ``ganflow train`` runs in this process through its click entry point,
with a SQLite tracking store in a temporary folder, ``--num_epochs 1``; the clock starts before the
command and stops when ``GANTrainer.fit`` is entered (everything before it: reading and checking
the file, hashing it for lineage, the run and its dataset profiles, fitting the transformer and
the LRU-stack encoding, cutting windows, the validator). Stage times come from the same process.
The epoch itself is then skipped (an epoch over 10M rows is a training-budget question, not a
reading one). Peak memory is the process's max RSS (the file is written by a child process).

Usage: python bench/first_epoch.py [--rows 10000000] [--format msr]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, require  # noqa: E402


class _Reached(Exception):
    pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    args = ap.parse_args()
    require(MSR)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "web0_big.csv"
        subprocess.run([sys.executable, "-c", f"from bench.read_speed import _write; from pathlib import Path; "
                        f"_write(Path({str(path)!r}), {args.rows})"], check=True, cwd=Path(__file__).resolve().parents[1])
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp}/mlflow.db"
        from ganflow.cli import main as cli
        from training import trainer

        stages: dict[str, float] = {}
        t0 = time.perf_counter()
        for module, name in (("training.data", "load_frame"), ("training.synthesizer", "make_windows")):
            _wrap(module, name, stages, t0)
        original = trainer.GANTrainer.fit

        def reached(self, *a, **k):
            stages["first_epoch_starts"] = time.perf_counter() - t0
            raise _Reached

        trainer.GANTrainer.fit = reached
        try:
            cli.main(["-q", "train", "--trace_path", str(path), "--trace_format", "msr", "--num_epochs", "1",
                      "--save_dir", f"{tmp}/ck", "--system_metrics", "false", "--plots", "false"],
                     standalone_mode=False)
        except _Reached:
            pass
        finally:
            trainer.GANTrainer.fit = original
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(json.dumps({"rows": args.rows, "mb": round(path.stat().st_size / 1e6, 1), **{k: round(v, 2) for k, v in stages.items()},
                          "peak_rss_gib": round(peak, 2), "target_s": 60}))


def _wrap(module: str, name: str, stages: dict, t0: float) -> None:
    import importlib

    mod = importlib.import_module(module)
    fn = getattr(mod, name)

    def timed(*a, **k):
        out = fn(*a, **k)
        stages[f"{name}_done"] = time.perf_counter() - t0
        return out

    setattr(mod, name, timed)
    for other in ("training.pipeline", "training.synthesizer"):  # names imported with from ... import
        m = importlib.import_module(other)
        if getattr(m, name, None) is fn:
            setattr(m, name, timed)


if __name__ == "__main__":
    main()
