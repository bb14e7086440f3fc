"""Which epoch to keep: one training run, several choices of the best epoch, each scored as registered.

``keep_best`` keeps the epoch with the lowest ``val_fields`` on the selection rows, plus
``select_detection`` × ``val_detection_12`` + ``select_burst`` × ``val_burst`` (the default weights
0.2 and 0.025; ``training.fidelity.Validator.scores``). With ``select_calibrated`` (the default)
each epoch is scored as it will be saved, calibrated; without it, before calibration. All choices
are made on the same training run of the default model (so the comparison is free of training
noise): after every epoch the generator is scored raw and calibrated, then each choice's epoch,
calibrated, writes a rollout as long as the test part and is scored by the storage scorecard on the
test rows (the splits and the budget are ``bench/quality.py``'s), and the model's long-run read
fraction is taken from 100 streams (``read_fraction_long``: the test rows' read fraction, and a
10,000-row rollout's, are mostly which R/W phases they hold). One JSON line per seed and choice, then the
medians over seeds, how many seeds each choice beats the first one on (and loses on) per line, and
how many seeds meet each issue target.

Choices (``--choices``, comma-separated): ``raw`` (val_fields before calibration), ``fields``
(val_fields, calibrated: the default before 2026-11-27's last change), ``WD:WB`` (val_fields +
WD × val_detection_12 + WB × val_burst, calibrated; ``0.2:0.025`` is the default).

Usage: python bench/selection.py [--split blocks|time] [--budget_s 43.2] [--seeds 42,43,44]
       [--choices fields,0.2:0.025] [--variant typed_lru_carry_join0] [--compare_phases]
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

LONG_STREAMS = 100  # 1,000-row streams of the long-run read fraction
TARGETS = {"detection_12": 0.25, "detection_256": 0.35, "read_fraction": 0.02, "read_fraction_long": 0.02}  # the issues' (errors)


def _weights(choice: str) -> tuple[float, float]:
    if choice == "fields":
        return 0.0, 0.0
    wd, wb = choice.split(":")
    return float(wd), float(wb)


def _train(config, frame, validator, budget: float, raw: bool):
    """Train ``config`` (uncalibrated) for ``budget`` seconds; after every epoch score the generator
    calibrated (val_fields, val_detection_12, val_burst; with ``raw`` also its val_fields before
    calibration) and keep its calibrated weights. Returns a calibrated model to load them into, the
    epochs' ``(raw val_fields or None, scores, weights)``, the prepared data and the transformer
    before any read/write phases were fitted."""
    from training.synthesizer import Synthesizer
    from training.trainer import StopTraining

    synth = Synthesizer(replace(config, calibrate=False))
    prepared, spent, epochs = [], [0.0], []

    def on_epoch(stats) -> None:
        spent[0] += stats.seconds
        copy = synth.calibrated_copy(prepared[0], announce=False, levels=False)
        before = validator.scores(synth)["val_fields"] if raw else None  # a second rollout: only when asked
        epochs.append((before, validator.scores(copy, (1.0, 1.0)),
                       {k: v.clone() for k, v in copy.generator.state_dict().items()}))
        if spent[0] >= budget:
            raise StopTraining("budget")

    synth.fit(frame, on_epoch_end=on_epoch, on_prepared=prepared.append)
    return synth.calibrated_copy(prepared[0], announce=False), epochs, prepared[0], synth.transformer


def _choose(choice: str, epochs: list) -> int:
    if choice == "raw":
        values = [raw for raw, _, _ in epochs]
    else:
        wd, wb = _weights(choice)
        values = [s["val_fields"] + wd * s["val_detection_12"] + wb * s["val_burst"] for _, s, _ in epochs]
    return min(range(len(values)), key=values.__getitem__)


def _long_read(model, real, seed: int) -> dict:
    """The model's own read/write mix, free of the test's phase noise: ``read_fraction_long`` =
    |read fraction of ``LONG_STREAMS`` 1,000-row streams - the test rows'| (the scorecard's rollout
    is one 10,000-row stream and the test rows ten 1,000-row blocks, and reads come in phases, so
    its read-fraction error is mostly which phases each holds), and ``read_stream_sd``, the spread
    of the streams' read fractions."""
    import numpy as np

    if real.opcode is None:
        return {}
    reads = np.array([(model.sample(1000, seed=seed, stream=s)[:, 4] == 0).mean() for s in range(LONG_STREAMS)])
    return {"read_fraction_long": float(abs(reads.mean() - (real.opcode == 0).mean())),
            "read_stream_sd": float(reads.std())}


def _summary(results: dict[str, list[dict]]) -> dict:
    import numpy as np

    first = next(iter(results.values()))
    out = {}
    for choice, rows in results.items():
        keys = [k for k in (*KEYS, "read_fraction_long", "read_stream_sd") if k in rows[0]]
        out[choice] = {"median": {k: float(np.median([r[k] for r in rows])) for k in keys},
                       "within_target": {k: sum(r[k] <= t for r in rows) for k, t in TARGETS.items() if k in rows[0]},
                       "better_worse_than_first": {k: [sum(r[k] < f[k] for r, f in zip(rows, first)),
                                                       sum(r[k] > f[k] for r, f in zip(rows, first))] for k in keys},
                       "epochs": [r["epoch"] for r in rows]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--split", choices=("time", "blocks"), default="blocks")
    ap.add_argument("--budget_s", type=float, default=43.2, help="training seconds per run (validation excluded)")
    ap.add_argument("--seeds", default="42,43,44")
    ap.add_argument("--choices", default="fields,0.2:0.025", help="raw, fields or WD:WB, comma-separated")
    ap.add_argument("--variant", default="typed_lru_carry_join0", help="bench/quality.py's VARIANTS: the model trained")
    ap.add_argument("--compare_phases", action="store_true",
                    help="fit read/write phases (--phases true) and score each chosen epoch with them and without "
                         "(CHOICE/no-phases; paired: only the opcodes differ)")
    args = ap.parse_args()
    require(MSR)
    from training.config import TraceGANConfig
    from training.fidelity import Validator
    from training.readers import read_trace
    from training.scorecard import TraceData, scorecard
    from training.trace_stats import window_spread

    fit_frame, cut, selection, test, extra = split(read_trace(MSR, "msr"), args.split)
    training, real = TraceData.from_frame(fit_frame.slice(0, cut)), TraceData.from_frame(test)
    validator = Validator(selection, sample=5000)
    if real.opcode is not None:  # the test rows' own mix and phases, for read_fraction_long / read_stream_sd
        print(json.dumps({"test_read_fraction": float((real.opcode == 0).mean()),
                          "test_block_sd": window_spread(real.opcode == 0, 1000)}), flush=True)
    choices = args.choices.split(",")
    results: dict[str, list[dict]] = {v: [] for c in choices for v in (c, *([f"{c}/no-phases"] if args.compare_phases
                                                                           else []))}
    for seed in (int(s) for s in args.seeds.split(",")):
        config = replace(TraceGANConfig(**SEED_HYPER), num_epochs=100_000, seed=seed,
                         **VARIANTS[args.variant], **extra, **({"phases": True} if args.compare_phases else {}))
        model, epochs, prepared, plain = _train(config, fit_frame, validator, args.budget_s, "raw" in choices)
        scored: dict[tuple[int, bool], dict] = {}
        for choice in choices:
            i = _choose(choice, epochs)
            for phases in (True, False) if args.compare_phases else (True,):
                if (i, phases) not in scored:
                    model.generator.load_state_dict(epochs[i][2])
                    model.transformer = plain  # the training rows' sticky keeps; phases fitted on this epoch
                    if phases:
                        model.fit_phases(prepared, announce=False)
                    card = scorecard(real, TraceData.from_matrix(validator.synthetic(model)), reference=training)
                    chosen = {k: v for k, v in epochs[i][1].items() if k in ("val_fields", "val_detection_12", "val_burst")}
                    scored[i, phases] = _scores(card) | _long_read(model, real, validator.seed) | {"epoch": i + 1} | \
                        chosen | {"phases": model.meta.get("phases") if phases else None}
                name = choice if phases else f"{choice}/no-phases"
                results[name].append(scored[i, phases])
                print(json.dumps({"seed": seed, "select": name, "epochs": len(epochs)} | scored[i, phases]), flush=True)
    print(json.dumps(_summary(results), indent=1))


if __name__ == "__main__":
    main()
