"""Fidelity at an equal training-time budget on the MSR trace: the seed's recipe vs ganflow variants.

Split in time order: train on the first 80% of the 100k requests, evaluate on the last 20%.
The budget is the seed recipe's own training time for ``--seed_epochs`` epochs (50 by default, as
the seed's README); every ganflow variant trains until its summed epoch time reaches that budget
(validation time excluded), scoring val_mmd2 after every epoch. Each final model then writes as
many rows as the validation part and is evaluated with ganflow's metrics, beside the floor (real
vs real halves of the validation part), the oracle marginals baseline (columns resampled from
the validation rows themselves) and the fair marginals baseline (resampled from the training
rows: what a model could know).

Usage: python bench/quality.py [--seed_epochs 50] [--variants seed_mode,delta_log,...]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, SEED_REFERENCE, require  # noqa: E402

SEED_HYPER = dict(batch_size=128, hidden_dim=66, latent_dim=16, lr_g=2e-5, lr_d=3e-5, d_updates=1, g_updates=2, seq_len=12,
                  feature_mode="seed", log1p=())
VARIANTS = {  # "delta_log_lr" is the measured winner and ganflow's default (TraceGANConfig())
    "seed_mode": dict(),
    "delta_log": dict(feature_mode="delta", log1p=("timestamp", "length", "latency")),
    "delta_log_lr": dict(feature_mode="delta", log1p=("timestamp", "length", "latency"), lr_g=5e-4, lr_d=5e-4,
                         d_updates=1, g_updates=1),
    "delta_log_lr_overlap": dict(feature_mode="delta", log1p=("timestamp", "length", "latency"), lr_g=5e-4, lr_d=5e-4,
                                 d_updates=1, g_updates=1, stride=4),
}
KEYS = ("mmd2", "acf_err", "hrc_err", "interarrival_ks", "detection", "ks_length", "ks_latency")


def run_seed(epochs: int, rows_train: int, n_out: int, out: Path) -> dict:
    cmd = [sys.executable, str(require(SEED_REFERENCE)), str(MSR), "--epochs", str(epochs), "--max_lines", str(rows_train),
           "--num_entries", str(n_out), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def train_variant(frame, overrides: dict, budget: float, validator):
    from training.config import TraceGANConfig
    from training.synthesizer import Synthesizer
    from training.trainer import StopTraining

    config = replace(TraceGANConfig(**SEED_HYPER), num_epochs=100_000, **overrides)
    synth = Synthesizer(config)
    curve, spent = [], [0.0]

    def on_epoch(stats) -> None:
        spent[0] += stats.seconds
        curve.append((round(spent[0], 2), validator(synth)))
        if spent[0] >= budget:
            raise StopTraining("budget")

    synth.fit(frame, on_epoch_end=on_epoch)
    return synth, curve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed_epochs", type=int, default=50)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()
    require(MSR)
    import numpy as np

    from training.fidelity import Validator, eval_matrix, evaluate, marginals_baseline
    from training.readers import read_trace
    from training.sequences import time_split

    frame = read_trace(MSR, "msr")
    cut = time_split(len(frame), 0.2)
    validation = frame.slice(cut, len(frame))
    validator = Validator(validation, sample=5000)
    val_x = validator.real
    report = {"rows_train": cut, "rows_validation": len(validation), "bandwidth": list(validator.sigmas)}

    def score(rows: np.ndarray) -> dict:
        full = evaluate(val_x, rows, sample=5000)
        return {k: full[k] for k in KEYS} | {"val_mmd2": validator.score_rows(rows)}

    refs = evaluate(val_x, marginals_baseline(eval_matrix(frame.slice(0, cut)), len(val_x), seed=3), sample=5000)
    report["floor"] = {k: refs[f"{k}_floor"] for k in KEYS}
    report["marginals_oracle"] = {k: refs[f"{k}_marginals"] for k in KEYS}
    report["marginals_from_train"] = {k: refs[k] for k in KEYS}

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "seed_synth.txt"
        start = time.perf_counter()
        seed = run_seed(args.seed_epochs, cut, len(validation), out)
        seed_rows = eval_matrix(read_trace(out, "seed_synth"))
        budget = seed["train_s"]
        report["budget_train_seconds"] = round(budget, 1)
        report["seed_recipe"] = score(seed_rows) | {"epochs": args.seed_epochs, "wall_s": round(time.perf_counter() - start, 1)}
    seed_val = report["seed_recipe"]["val_mmd2"]
    for name in args.variants.split(","):
        synth, curve = train_variant(frame, VARIANTS[name], budget, validator)
        reached = next((t for t, v in curve if v <= seed_val), None)
        report[name] = score(validator.synthetic(synth)) | {
            "epochs": len(curve), "best_val_mmd2": min(v for _, v in curve),
            "seconds_to_seed_val_mmd2": reached,
            "fraction_of_seed_time": None if reached is None else round(reached / budget, 3)}
        print(json.dumps({name: report[name]}), flush=True)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
