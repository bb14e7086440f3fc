"""Pruning's worth, and what tuning finds, on the MSR trace (one run, same budget both ways).

Two studies with the same trial budget and sampler seed: pruner ``none`` and pruner ``median``.
Prints the epochs each spent (the sum over trials of epochs trained) and the best val_mmd2 each
found; then the seed's default configuration (its recipe: seed preprocessing, lrG 2e-5, lrD
3e-5, 1 D : 2 G) trained for the same epochs per trial, scored the same way, with the
real-vs-real floor (validation halves) beside it.

Usage: python bench/tuning.py [--trials 8] [--epochs 6] [--max_lines 50000]
Target: pruning saves >= 50% of epochs for an equal best.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, require  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--max_lines", type=int, default=50_000)
    args = ap.parse_args()
    require(MSR)
    logging.basicConfig(level=logging.WARNING)
    tmp = Path(tempfile.mkdtemp(prefix="ganflow-bench-tune-"))
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp / 'mlflow.db'}"
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    import optuna

    from training.config import SEED_RECIPE, DataConfig, RunOptions, TraceGANConfig
    from training.data import load_frame
    from training.fidelity import Validator, evaluate, real_halves
    from training.pipeline import train
    from training.sequences import time_split
    from tuning.options import TuneOptions
    from tuning.study import open_study, tune

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    data = DataConfig(trace_path=str(MSR), trace_format="msr", max_lines=args.max_lines)
    base = TraceGANConfig()  # the search runs over ganflow's default preprocessing
    options = RunOptions(save_dir=str(tmp / "ck"), eval_every=1, plots=False, experiment="bench-tune")
    out = {"trials": args.trials, "epochs_per_trial": args.epochs, "rows": args.max_lines}
    for pruner in ("none", "median"):
        opts = TuneOptions(study_name=f"bench-{pruner}", storage=f"sqlite:///{tmp / 'optuna.db'}", n_trials=args.trials,
                           epochs_per_trial=args.epochs, pruner=pruner, register_as="", sampler_seed=0)
        start = time.perf_counter()
        result = tune(data, base, options, opts)
        study = open_study(opts)
        spent = sum(t.user_attrs.get("epochs", 0) for t in study.trials)
        out[pruner] = {"epochs_spent": spent, "best_val_mmd2": result.best_value, "best_params": result.best_params,
                       "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials),
                       "seconds": round(time.perf_counter() - start, 1)}
    out["epochs_saved_by_pruning"] = round(1 - out["median"]["epochs_spent"] / out["none"]["epochs_spent"], 3)
    frame, info = load_frame(data)
    default = train(data, TraceGANConfig(**SEED_RECIPE, num_epochs=args.epochs), options, frame=frame, data_info=info)
    validation = frame.slice(time_split(len(frame), base.val_fraction), len(frame))
    halves = real_halves(Validator(validation).real)
    floor = evaluate(halves[0], halves[1], references=False, sequence=False)["mmd2"]
    out["seed_default_val_mmd2"] = default.final_val_mmd2
    out["val_floor_mmd2_halves"] = floor
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
