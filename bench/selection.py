"""Which epoch to keep: one training run, two choices of the best epoch, both scored as registered.

``keep_best`` keeps the epoch with the lowest ``val_fields`` on the selection rows. With
``select_calibrated`` (the default) each epoch is scored as it will be saved, calibrated; without
it, before calibration (the default before). Both choices are made on the same training run of the
default model (so the comparison is free of training noise): after every epoch the generator is
scored raw and calibrated, the best of each kept, then both kept generators, calibrated, write a
rollout as long as the test part and are scored by the storage scorecard on the test rows (the
splits and the budget are ``bench/quality.py``'s). One JSON line per seed and choice, then the
medians over seeds.

Usage: python bench/selection.py [--split blocks|time] [--budget_s 43.2] [--seeds 42,43,44]
(the time split's budget: the seed recipe's 25 epochs took ~25 s on 2 cores)
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import MSR, require  # noqa: E402
from bench.quality import KEYS, SEED_HYPER, VARIANTS, _scores, split  # noqa: E402


def _train(config, frame, validator, budget: float):
    """Train ``config`` (uncalibrated) for ``budget`` seconds; after every epoch score the generator
    raw and calibrated and keep the best of each (its calibrated weights). Returns a calibrated
    model to load them into, ``{"raw" | "calibrated": (val_fields, weights, epoch)}``, the epochs."""
    from training.synthesizer import Synthesizer
    from training.trainer import StopTraining

    synth = Synthesizer(replace(config, calibrate=False))
    prepared, spent = [], [0.0]
    best = {k: (float("inf"), None, 0) for k in ("raw", "calibrated")}

    def on_epoch(stats) -> None:
        spent[0] += stats.seconds
        copy = synth.calibrated_copy(prepared[0], announce=False, levels=False)
        weights = {k: v.clone() for k, v in copy.generator.state_dict().items()}
        for key, model in (("raw", synth), ("calibrated", copy)):
            value = validator.scores(model)["val_fields"]
            if value < best[key][0]:
                best[key] = (value, weights, stats.epoch)
        if spent[0] >= budget:
            raise StopTraining("budget")

    synth.fit(frame, on_epoch_end=on_epoch, on_prepared=prepared.append)
    return synth.calibrated_copy(prepared[0], announce=False), best, len(synth.history)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("time", "blocks"), default="blocks")
    ap.add_argument("--budget_s", type=float, default=43.2, help="training seconds per run (validation excluded)")
    ap.add_argument("--seeds", default="42,43,44")
    args = ap.parse_args()
    require(MSR)
    import numpy as np

    from training.config import TraceGANConfig
    from training.fidelity import Validator
    from training.readers import read_trace
    from training.scorecard import TraceData, scorecard

    fit_frame, cut, selection, test, extra = split(read_trace(MSR, "msr"), args.split)
    training, real = TraceData.from_frame(fit_frame.slice(0, cut)), TraceData.from_frame(test)
    validator = Validator(selection, sample=5000)
    results: dict[str, list[dict]] = {"raw": [], "calibrated": []}
    for seed in (int(s) for s in args.seeds.split(",")):
        config = replace(TraceGANConfig(**SEED_HYPER), num_epochs=100_000, seed=seed,
                         **VARIANTS["typed_lru_carry_join0"], **extra)
        model, best, epochs = _train(config, fit_frame, validator, args.budget_s)
        for key, (value, weights, epoch) in best.items():
            model.generator.load_state_dict(weights)
            card = scorecard(real, TraceData.from_matrix(validator.synthetic(model)), reference=training)
            results[key].append(_scores(card) | {"epoch": epoch, "val_fields": value})
            print(json.dumps({"seed": seed, "select": key, "epochs": epochs} | results[key][-1]), flush=True)
    medians = {key: {k: float(np.median([r[k] for r in rows])) for k in KEYS if k in rows[0]}
               for key, rows in results.items()}
    print(json.dumps({"median": medians}, indent=1))


if __name__ == "__main__":
    main()
