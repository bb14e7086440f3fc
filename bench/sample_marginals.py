"""Do the categorical heads keep the data's mix? The default model on the bundled sample trace
(20,000 rows, no shared data needed), per moment weight and seed: read fraction and size mix of a
20,000-row sample against the training part, the kept epoch, and the inter-arrival times' median
and coefficient of variation (docs/QUALITY.md, "G's moment term").

Usage: python bench/sample_marginals.py [--weights 0,1] [--seeds 42,43]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", default="0,1")
    ap.add_argument("--seeds", default="42,43")
    args = ap.parse_args()
    import numpy as np

    from training.config import TraceGANConfig
    from training.fidelity import Validator
    from training.sample import make_sample_trace
    from training.synthesizer import Synthesizer
    from training.trace_stats import top_sizes

    frame = make_sample_trace(20_000)
    train = frame.slice(0, 16_000)
    real_gaps = np.diff(train.timestamp)
    for weight in (float(w) for w in args.weights.split(",")):
        for seed in (int(s) for s in args.seeds.split(",")):
            synth = Synthesizer(replace(TraceGANConfig(), moment_weight=weight, seed=seed))
            held = {}

            def prepared(data, held=held) -> None:
                held["validator"] = Validator(data.validation, sample=5000)

            def epoch_end(stats, synth=synth, held=held) -> None:
                synth.observe(stats.epoch, held["validator"].scores(synth)["val_fields"])

            synth.fit(frame, on_epoch_end=epoch_end, on_prepared=prepared)
            rows = synth.sample(20_000, seed=1)
            gaps = np.diff(rows[:, 0])
            print(json.dumps({
                "moment_weight": weight, "seed": seed, "model_epoch": synth.meta["epoch"],
                "read_fraction": round(float(np.mean(rows[:, 4] == 0)), 3),
                "train_read_fraction": round(float(np.mean(train.opcode == 0)), 3),
                "top_sizes": top_sizes(rows[:, 1], 3, digits=3), "train_top_sizes": top_sizes(train.length, 3, digits=3),
                "gap_median": round(float(np.median(gaps))), "train_gap_median": round(float(np.median(real_gaps))),
                "gap_cv": round(float(gaps.std() / gaps.mean()), 2),
                "train_gap_cv": round(float(real_gaps.std() / real_gaps.mean()), 2)}), flush=True)


if __name__ == "__main__":
    main()
