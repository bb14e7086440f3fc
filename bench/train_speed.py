"""Training speed at identical math: the seed's recipe vs ganflow in seed mode, one run, same data.

Both train on the same rows of the MSR trace (all of them: the seed has no validation split) with
the seed README's hyper-parameters (batch 128, hidden 66, latent 16, lrG 2e-5, lrD 3e-5,
1 D : 2 G, seq 12) for the same number of epochs, so both take the same optimizer steps.
seed: ../shared/bench/seed_reference.py (its own process, its own timer around the loop).
ganflow: Synthesizer.fit with feature_mode=seed, val_fraction=0, timed the same way (the sum of
epoch times; no MLflow logging inside the loop).

The machine is shared and noisy, so the two alternate for ``--rounds`` rounds and the medians
are reported, with the per-round ratios.

Usage: python bench/train_speed.py [--epochs 2] [--rounds 3] [--max_lines 100000]
Target: ganflow epochs/s >= 1.5x the seed's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, SEED_REFERENCE, require  # noqa: E402

HYPER = dict(batch=128, hidden=66, latent=16, lrG=2e-5, lrD=3e-5, d_updates=1, g_updates=2, seq_len=12)


def run_seed(epochs: int, max_lines: int) -> dict:
    cmd = [sys.executable, str(require(SEED_REFERENCE)), str(MSR), "--epochs", str(epochs), "--max_lines", str(max_lines),
           "--num_entries", "1000", "--out", "/dev/null"] + [a for k, v in HYPER.items() for a in (f"--{k}", str(v))]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_ganflow(epochs: int, max_lines: int) -> dict:
    from training.config import TraceGANConfig
    from training.readers import read_trace
    from training.synthesizer import Synthesizer

    frame = read_trace(MSR, "msr", max_lines=max_lines)
    config = TraceGANConfig(num_epochs=epochs, val_fraction=0.0, feature_mode="absolute", log1p=(),
                            batch_size=HYPER["batch"], hidden_dim=HYPER["hidden"],
                            latent_dim=HYPER["latent"], lr_g=HYPER["lrG"], lr_d=HYPER["lrD"],
                            d_updates=HYPER["d_updates"], g_updates=HYPER["g_updates"], seq_len=HYPER["seq_len"])
    synth = Synthesizer(config)
    synth.fit(frame)
    return {"train_s": sum(h["seconds"] for h in synth.history), "windows": synth.meta["train_windows"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--max_lines", type=int, default=100_000)
    args = ap.parse_args()
    require(MSR)
    seed_eps, our_eps = [], []
    for _ in range(args.rounds):
        seed = run_seed(args.epochs, args.max_lines)
        ours = run_ganflow(args.epochs, args.max_lines)
        seed_eps.append(args.epochs / seed["train_s"])
        our_eps.append(args.epochs / ours["train_s"])
    med = statistics.median
    print(json.dumps({"epochs": args.epochs, "rounds": args.rounds, "rows": seed["rows"], "windows": ours["windows"],
                      **HYPER, "seed_epochs_per_s": round(med(seed_eps), 4), "ganflow_epochs_per_s": round(med(our_eps), 4),
                      "speedup_median": round(med(o / s for o, s in zip(our_eps, seed_eps)), 2),
                      "speedup_per_round": [round(o / s, 2) for o, s in zip(our_eps, seed_eps)]}))


if __name__ == "__main__":
    main()
