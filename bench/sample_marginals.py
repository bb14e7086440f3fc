"""Do the default model's outputs keep the data's mix, and does a long stream stay the same stream?
The default model on the bundled sample trace (20,000 rows, no shared data needed; the last 20%
held out), per training seed, join_windows and moment weight: each trained generator is scored
as trained and after its marginal calibration (``training.calibration``), on a 100,000-row
stream — read fraction, size mix, inter-arrival and latency KS and reuse rate against the
held-out rows, the inter-arrival tail, ``val_fields`` on the held-out rows for the first 4,000
rows, and drift along the stream (KS between the inter-arrival times of rows 0–10k and 90–100k).

Usage: python bench/sample_marginals.py [--seeds 42,43] [--joins 1] [--weights 0]
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
    ap.add_argument("--weights", default="0", help="moment weights")
    ap.add_argument("--joins", default="1", help="join_windows values")
    ap.add_argument("--seeds", default="42,43")
    ap.add_argument("--select", default="trained", help="trained,calibrated: which generator each epoch's "
                    "val_fields is taken on (keep_best keeps the lowest)")
    args = ap.parse_args()
    import numpy as np

    from training.config import TraceGANConfig
    from training.fidelity import Validator, field_distance
    from training.locality import stack_distances
    from training.sample import make_sample_trace
    from training.synthesizer import Synthesizer
    from training.trace_stats import ks, size_tv, top_sizes

    frame = make_sample_trace(20_000)
    train, test = frame.slice(0, 16_000), frame.slice(16_000, 20_000)
    test_gaps = np.diff(test.timestamp.astype(np.float64))

    def reuse(lba, length) -> float:
        return float(np.mean(stack_distances(np.asarray(lba, np.int64), length) >= 0))

    def describe(rows) -> dict:
        gaps = np.diff(rows[:, 0])
        return {"read_fraction": round(float(np.mean(rows[:, 4] == 0)), 3),
                "top_sizes": top_sizes(rows[:, 1], 3, digits=3),
                "size_tv": round(size_tv(test.length, rows[:, 1])[0], 3),
                "gap_ks": round(ks(test_gaps, gaps), 3), "latency_ks": round(ks(test.latency, rows[:, 3]), 3),
                "gap_p99": round(float(np.quantile(gaps, 0.99))), "gap_cv": round(float(gaps.std() / gaps.mean()), 2),
                "reuse_rate": round(reuse(rows[:20_000, 2], rows[:20_000, 1]), 4),
                "val_fields": round(field_distance(test, rows[:len(test)]), 4),
                "stream_drift_ks": round(ks(gaps[:10_000], gaps[-10_000:]), 3)}

    real = np.column_stack([test.timestamp, test.length, test.lba, test.latency, test.opcode]).astype(np.float64)
    print(json.dumps({"held_out": describe(real) | {"stream_drift_ks": None},
                      "train_read_fraction": round(float(np.mean(train.opcode == 0)), 3),
                      "train_reuse_rate": round(reuse(train.lba, train.length), 4)}), flush=True)
    for weight in (float(w) for w in args.weights.split(",")):
        for join in (int(j) for j in args.joins.split(",")):
            for seed, select in ((int(s), v) for s in args.seeds.split(",") for v in args.select.split(",")):
                config = replace(TraceGANConfig(), moment_weight=weight, join_windows=join, seed=seed, calibrate=False)
                synth = Synthesizer(config)
                held = {}

                def prepared(data, held=held) -> None:
                    held["validator"], held["data"] = Validator(data.validation, sample=5000), data

                def epoch_end(stats, synth=synth, held=held, select=select) -> None:
                    view = synth.calibrated_copy(held["data"]) if select == "calibrated" else synth
                    synth.observe(stats.epoch, held["validator"].scores(view)["val_fields"])

                data = synth.fit(frame, on_epoch_end=epoch_end, on_prepared=prepared)
                for label in ("trained", "calibrated"):
                    if label == "calibrated":
                        synth.calibrate(data)
                    print(json.dumps({"moment_weight": weight, "join_windows": join, "seed": seed, "model": label,
                                      "selected_on": select,
                                      "model_epoch": synth.meta["epoch"]} | describe(synth.sample(100_000, seed=1))),
                          flush=True)


if __name__ == "__main__":
    main()
