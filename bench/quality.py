"""Fidelity at an equal training-time budget on the MSR trace: the seed's recipe vs ganflow variants.

Split in time order: train on the first 80% of the 100k requests; the next 10% choose the epoch
(``val_mmd2`` and ``val_fields`` after every epoch; ``keep_best`` keeps the lowest ``val_fields``);
the last 10% score the final model (test rows that chose nothing).
The budget is the seed recipe's own training time for ``--seed_epochs`` epochs (50 by default, as
the seed's README); every ganflow variant trains until its summed epoch time reaches that budget
(validation time excluded), scoring val_mmd2 after every epoch. Each final model then writes a
rollout as long as the test part, scored by the storage scorecard (``training.scorecard``)
against the test rows, with verbatim copies looked for in the training rows; beside it the
floor (two halves of the test part), the oracle marginals baseline (every field resampled
from the test rows themselves), the fair marginals baseline (resampled from the training
rows: what a model could know) and the training replay: every stretch of the training rows as
long as the test part, verbatim, scored as if it were synthetic (``training_replay``: the median
over stretches, ``training_replay_range`` their min and max, ``training_replay_last`` the stretch
nearest the test part). A perfect model of the training rows scores like a stretch of them, so
a target the replay misses everywhere is set by the trace's drift, not by the model. A markdown
table of the headline errors ends the output.

``--split blocks`` is a diagnostic, not the issues' protocol: the trace is cut into 1,000-row
blocks, every tenth (from block 3) chooses the epoch, every tenth (from block 8) is scored, the
other 80 train (each kept row keeps its own inter-arrival gap, so the parts are continuous in
time). Test and training rows then share web0's sequence of regimes, which the time split does
not (reads 3% / 64% / 96% of rows 0-10k / 30-40k / 70-80k, 85% in the test rows): what is left
between a model and the floor is the model's. The seed recipe reads the file's first rows, so
this split takes ``--budget_s`` (training seconds per variant) instead of the seed's time.

A variant with slow levels (``--levels``, fitted after training) is also scored without them
(``~nolevels``: the same trained model, a paired comparison) and, both ways, as ``~streams``: as
many independent 1,000-row streams end to end as the test part has blocks (with ``--split blocks``
the test rows are 1,000-row blocks from across the trace, not one stretch).

Usage: python bench/quality.py [--seed_epochs 50] [--variants seed_mode,delta_log,...] [--seeds 42,43,44]
                               [--split time|blocks --budget_s 43]
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
from training.config import SELECT_BURST, SELECT_DETECTION  # noqa: E402

SEED_HYPER = dict(batch_size=128, hidden_dim=66, latent_dim=16, lr_g=2e-5, lr_d=3e-5, d_updates=1, g_updates=2, seq_len=12,
                  feature_mode="absolute", log1p=(), locality="none", carry_state=False, join_windows=1, moment_weight=0.0,
                  slow_noise=0, noise_skip=False, sticky_heads=False, select_calibrated=False, levels=False,
                  select_detection=0.0, select_burst=0.0)
_LR = dict(lr_g=5e-4, lr_d=5e-4, d_updates=1, g_updates=1)
_LRU = dict(feature_mode="typed", continuous="quantile", **_LR, locality="lru")
_SELECT = dict(select_detection=SELECT_DETECTION, select_burst=SELECT_BURST)  # keep_best's default weights
_DEFAULT = dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True, sticky_heads=True,
                select_calibrated=True, **_SELECT)  # TraceGANConfig()'s model, as typed_lru_carry_join0
_DELTA = dict(feature_mode="delta", log1p=("timestamp", "length", "latency"))
VARIANTS = {  # see docs/QUALITY.md for which one is ganflow's default (TraceGANConfig())
    "seed_mode": dict(keep_best=False),
    "delta_log": dict(_DELTA, keep_best=False),
    "delta_log_lr": dict(_DELTA, **_LR, keep_best=False),  # the default before typed fields: the last epoch
    "delta_log_lr_best": dict(_DELTA, **_LR),
    "delta_log_lr_overlap": dict(_DELTA, **_LR, stride=4, keep_best=False),
    "typed_log": dict(feature_mode="typed", continuous="log", **_LR),
    "typed_quantile": dict(feature_mode="typed", continuous="quantile", **_LR),
    "typed_log_ema": dict(feature_mode="typed", continuous="log", **_LR, ema=0.99),
    "typed_normal": dict(feature_mode="typed", continuous="normal", **_LR),
    "typed_quantile_ema": dict(feature_mode="typed", continuous="quantile", **_LR, ema=0.99),
    "typed_log_last": dict(feature_mode="typed", continuous="log", **_LR, keep_best=False),
    "typed_log_wgan": dict(feature_mode="typed", continuous="log", **_LR, loss="wgan-gp", beta2=0.9),
    "typed_log_wgan_d5": dict(feature_mode="typed", continuous="log", lr_g=1e-4, lr_d=1e-4, d_updates=5, g_updates=1,
                              loss="wgan-gp", beta2=0.9),
    "typed_quantile_wgan": dict(feature_mode="typed", continuous="quantile", **_LR, loss="wgan-gp", beta2=0.9),
    # part 2: explicit locality (LRU-stack actions), carried LSTM state, joined windows
    "typed_lru": dict(_LRU),  # independent windows
    "typed_lru_carry": dict(_LRU, carry_state=True),  # fresh state every window in training (join_windows 1)
    "typed_lru_carry_join4": dict(_LRU, carry_state=True, join_windows=4),
    # G's fakes continue their streams through the epoch, with slow latent inputs, the row noise
    # straight to latency and the heads' noise kept from row to row: the default (TraceGANConfig());
    # _unsticky: fresh head noise every row (the default before); _fast: none of the three; every
    # epoch scored calibrated (select_calibrated) in the default only, _select_raw: before calibration;
    # the epoch kept by val_fields + 12-row detection + burstiness in the default, _select_fields: val_fields alone
    "typed_lru_carry_join0": _DEFAULT,
    # the default with its size head calibrated to the overall mix, not per address action
    # class (--calibrate_by_action false: the default before 2026-11-28)
    "typed_lru_default_marginal": dict(_DEFAULT, calibrate_by_action=False),
    "typed_lru_carry_join0_select_fields": dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True,
                                                sticky_heads=True, select_calibrated=True),
    # _w1: the default with G's window-shape term (--window_weight 1)
    "typed_lru_carry_join0_w1": dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True,
                                     sticky_heads=True, select_calibrated=True, window_weight=1.0, **_SELECT),
    # _levels: the default with slow levels of gaps and latency fitted at calibration (--levels true)
    "typed_lru_carry_join0_levels": dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True,
                                         sticky_heads=True, select_calibrated=True, levels=True, **_SELECT),
    "typed_lru_carry_join0_select_raw": dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True,
                                             sticky_heads=True),
    "typed_lru_carry_join0_unsticky": dict(_LRU, carry_state=True, join_windows=0, slow_noise=2, noise_skip=True),
    "typed_lru_carry_join0_fast": dict(_LRU, carry_state=True, join_windows=0),
    "typed_lru_carry_join0_slow3": dict(_LRU, carry_state=True, join_windows=0, slow_noise=3, noise_skip=True),
    "typed_lru_carry_b16": dict(_LRU, carry_state=True, reuse_buckets=16),
    "typed_lru_carry_b4": dict(_LRU, carry_state=True, reuse_buckets=4),
    "typed_lru_pages_carry": dict(_LRU, carry_state=True, locality="lru-pages"),
    "typed_lru_pages": dict(_LRU, locality="lru-pages"),
    "typed_lru_pages_carry_join0": dict(_LRU, carry_state=True, join_windows=0, locality="lru-pages"),
    # the default with every page of a request on the LRU stack (--locality lru-pages); _addr_raw: its
    # address head left as the network made it (--calibrate_address false); _marginal: its sizes fitted
    # to the mix, not given the address action (--calibrate_by_action false)
    "typed_lru_pages_default": dict(_DEFAULT, locality="lru-pages"),
    "typed_lru_pages_default_addr_raw": dict(_DEFAULT, locality="lru-pages", calibrate_address=False),
    "typed_lru_pages_default_addr_raw_marginal": dict(_DEFAULT, locality="lru-pages", calibrate_address=False,
                                                      calibrate_by_action=False),
    # (without slow inputs or the noise path) the address action drawn first, the other outputs given
    # it; _indep: all heads drawn independently from G's state (the default before that); _addr_raw:
    # calibration leaves the address head as the network made it (closer miss-ratio curves, lower reuse rate)
    "typed_lru_carry_join0_indep": dict(_LRU, carry_state=True, join_windows=0, address_first=False),
    "typed_lru_carry_join0_addr_raw": dict(_LRU, carry_state=True, join_windows=0, calibrate_address=False),
    "typed_lru_carry_join0_indep_addr_raw": dict(_LRU, carry_state=True, join_windows=0, address_first=False,
                                                 calibrate_address=False),
    # G's moment term (mean/std gaps, KL per one-hot head): a trade on web0, off by default (docs/QUALITY.md)
    "typed_lru_carry_m1": dict(_LRU, carry_state=True, moment_weight=1.0),
    "typed_lru_carry_m3": dict(_LRU, carry_state=True, moment_weight=3.0),
}
KEYS = ("hrc_mae", "byte_mr_mae", "reuse_rate", "stack_w1", "size_tv", "size_in_real", "read_fraction",
        "read_phase_sd", "op_repeat", "size_repeat", "interarrival_ks", "latency_ks", "burst_err", "acf_ripple",
        "detection_12", "detection_256", "mmd2", "verbatim_8")


def run_seed(epochs: int, rows_train: int, n_out: int, out: Path) -> dict:
    cmd = [sys.executable, str(require(SEED_REFERENCE)), str(MSR), "--epochs", str(epochs), "--max_lines", str(rows_train),
           "--num_entries", str(n_out), "--out", str(out)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def split_blocks(frame, block: int = 1000, every: int = 10):
    """(training, selection, test) frames of interleaved blocks (``--split blocks``)."""
    import numpy as np

    which = (np.arange(len(frame)) // block) % every
    ts = np.asarray(frame.timestamp)
    gaps = np.diff(ts, prepend=ts[:1])  # each row's gap to the row before it in the file

    def part(keep):
        out = frame.take(keep)
        out.timestamp = np.cumsum(gaps[keep]) - gaps[keep][0]
        return out

    return part((which != 3) & (which != 8)), part(which == 3), part(which == 8)


def split(frame, how: str):
    """``(frame to fit, training rows in it, selection rows, test rows, config overrides)`` of the
    ``time`` or ``blocks`` split (see the module docstring)."""
    from training.sequences import time_split

    if how == "blocks":
        fit_frame, selection, test = split_blocks(frame)
        return fit_frame, len(fit_frame), selection, test, {"val_fraction": 0.0}
    cut = time_split(len(frame), 0.2)
    mid = (cut + len(frame)) // 2
    # epochs are chosen on the first half of the held-out rows and scored on the second: a score on
    # the rows that chose the epoch would be optimistic (the models swing from epoch to epoch)
    return frame, cut, frame.slice(cut, mid), frame.slice(mid, len(frame)), {}


def train_variant(frame, overrides: dict, budget: float, validator, seed: int = 42):
    from training.config import TraceGANConfig
    from training.fidelity import select_value
    from training.synthesizer import Synthesizer
    from training.trainer import StopTraining

    config = replace(TraceGANConfig(**SEED_HYPER), num_epochs=100_000, seed=seed, **overrides)
    calibrate = config.calibrate and config.feature_mode == "typed"
    synth = Synthesizer(replace(config, calibrate=False))  # calibrated after the uncalibrated model is scored
    curve, spent, prepared = [], [0.0], []

    def on_epoch(stats) -> None:
        spent[0] += stats.seconds
        # each epoch as fit's epoch_model() scores it: calibrated where the variant calibrates and selects so
        select = calibrate and config.select_calibrated
        scores = validator.scores(synth.calibrated_copy(prepared[0], announce=False, levels=False) if select else synth,
                                  config.select_weights)
        curve.append((round(spent[0], 2), scores["val_mmd2"]))
        synth.observe(stats.epoch, select_value(scores))  # keep_best keeps the best epoch's generator
        if spent[0] >= budget:
            raise StopTraining("budget")

    data = synth.fit(frame, on_epoch_end=on_epoch, on_prepared=prepared.append)
    return synth, curve, data, calibrate


def stream_blocks(synth, n: int, how: str, seed: int, block: int = 1000):
    """``n`` synthetic rows as the test part is cut: for ``--split blocks`` independent ``block``-row
    streams end to end (each keeps its own gaps, as ``split_blocks`` joins the real ones), else one."""
    import numpy as np

    if how != "blocks":
        rows = synth.sample(n, seed=seed)
    else:
        parts = [synth.sample(min(block, n - i * block), seed=seed, stream=i) for i in range(-(-n // block))]
        for prev, part in zip(parts, parts[1:]):
            part[:, 0] += prev[-1, 0]
        rows = np.concatenate(parts)
    rows[:, 0] -= rows[:, 0].min()
    return rows


def replace_transformer(synth, transformer):
    """A shallow copy of ``synth`` sampling through ``transformer``."""
    import copy

    other = copy.copy(synth)
    other.transformer = transformer
    return other


def ripple(timestamps, seq_len: int = 12) -> float:
    """How much the autocorrelation of log inter-arrival times jumps at multiples of ``seq_len``
    (independent windows laid end to end): mean over k = 1..3 of |acf(k L) - (acf(k L - 1) +
    acf(k L + 1)) / 2|. A real trace has none to speak of."""
    import numpy as np

    x = np.log1p(np.maximum(np.diff(np.asarray(timestamps, np.float64)), 0.0))
    x = x - x.mean()
    var = float(x @ x) or 1.0
    acf = lambda lag: float(x[:-lag] @ x[lag:]) / var  # noqa: E731
    return float(np.mean([abs(acf(k * seq_len) - (acf(k * seq_len - 1) + acf(k * seq_len + 1)) / 2)
                          for k in (1, 2, 3)]))


def replay(training, n: int, score) -> dict:
    """The training rows themselves as the synthetic trace (see the module docstring): every
    ``n``-row stretch of ``training`` (a frame), its time from 0, through ``score``."""
    import numpy as np

    runs = []
    for start in range(len(training) - n, -1, -n):  # from the stretch nearest the test part back
        part = training.slice(start, start + n)
        part.timestamp = np.asarray(part.timestamp, np.float64) - float(part.timestamp[0])
        runs.append(score(part))
    keys = [k for k in KEYS if all(r.get(k) is not None for r in runs)]
    return {"training_replay": {k: float(np.median([r[k] for r in runs])) for k in keys} | {"stretches": len(runs)},
            "training_replay_range": {k: [min(r[k] for r in runs), max(r[k] for r in runs)] for k in keys},
            "training_replay_last": runs[0]}


def _scores(card: dict, column: str = "error") -> dict:
    return {k: card["metrics"][k][column] for k in KEYS if k in card["metrics"]}


def _table(report: dict) -> str:
    names = [k for k in report if isinstance(report[k], dict) and isinstance(report[k].get("hrc_mae"), float)]
    head = "| variant | " + " | ".join(KEYS) + " | val MMD² | epochs |"
    rows = [head, "|" + "---|" * (len(KEYS) + 3)]
    fmt = lambda v: "—" if v is None else f"{v:.3g}"  # noqa: E731
    for name in names:
        r = report[name]
        rows.append(f"| {name} | " + " | ".join(fmt(r.get(k)) for k in KEYS)
                    + f" | {fmt(r.get('val_mmd2'))} | {r.get('epochs', '')} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed_epochs", type=int, default=50)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--seeds", default="42", help="training seeds, e.g. 42,43,44 (each variant runs once per seed)")
    ap.add_argument("--split", choices=("time", "blocks"), default="time")
    ap.add_argument("--budget_s", type=float, default=0.0, help="training seconds per model (--split blocks)")
    args = ap.parse_args()
    if args.split == "blocks" and args.budget_s <= 0:
        ap.error("--split blocks needs --budget_s (the seed recipe cannot train on interleaved blocks)")
    require(MSR)
    import numpy as np

    from training.fidelity import Validator, field_distance
    from training.readers import read_trace
    from training.scorecard import TraceData, marginals, scorecard

    frame = read_trace(MSR, "msr")
    fit_frame, cut, selection, validation, fit_extra = split(frame, args.split)
    training = TraceData.from_frame(fit_frame.slice(0, cut))
    validator = Validator(selection, sample=5000)
    real = TraceData.from_frame(validation)
    report = {"split": args.split, "rows_train": cut, "rows_selection": len(selection), "rows_test": len(validation),
              "bandwidth": list(validator.sigmas)}

    def score(synthetic: TraceData, rows: np.ndarray | None = None) -> dict:
        card = scorecard(real, synthetic, reference=training)
        out = _scores(card) | {"verdict": card["verdict"]}
        for key in ("reuse_rate", "read_phase_sd", "op_repeat", "size_repeat"):
            if key in card["metrics"]:
                out[f"{key}_value"] = card["metrics"][key]["synthetic"]
        if rows is not None:
            out["acf_ripple"] = ripple(rows[:, 0])
            out["val_mmd2"] = validator.score_rows(rows)
            out["val_fields"] = field_distance(selection, rows)
            out["test_fields"] = field_distance(validation, rows)
        return out, card

    fair = marginals(training, seed=3).take(np.arange(len(validation)))
    report["marginals_from_train"], card = score(fair)
    report["floor"] = _scores(card, "floor")
    report["marginals_oracle"] = _scores(card, "marginals")
    report["real_values"] = {k: card["metrics"][k]["real"] for k in ("reuse_rate", "read_fraction", "aligned_4k",
                                                                     "sequential_fraction", "one_hit_wonders")}
    report["real_top_sizes"] = card["sizes"]["real_top"][:5]
    report["real_acf_ripple"] = ripple(validation.timestamp)
    report |= replay(fit_frame.slice(0, cut), len(validation), lambda part: score(TraceData.from_frame(part))[0])
    for key in ("training_replay", "training_replay_last"):
        print(json.dumps({key: report[key]}), flush=True)

    budget, seed_val = args.budget_s, None
    if not budget:  # the time split: the budget is the seed recipe's own training time
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "seed_synth.txt"
            start = time.perf_counter()
            seed = run_seed(args.seed_epochs, cut, len(validation), out)
            seed_frame = read_trace(out, "text4")
            budget = seed["train_s"]
            seed_rows = seed_frame.values()
            seed_rows[:, 0] -= seed_rows[:, 0].min()
            report["seed_recipe"] = score(TraceData.from_frame(seed_frame), seed_rows)[0] | {
                "epochs": args.seed_epochs, "wall_s": round(time.perf_counter() - start, 1)}
        seed_val = report["seed_recipe"]["val_mmd2"]
    report["budget_train_seconds"] = round(budget, 1)
    seeds = [int(s) for s in args.seeds.split(",")]
    for variant in args.variants.split(","):
        for seed in seeds:
            name = variant if len(seeds) == 1 else f"{variant}@{seed}"
            synth, curve, data, calibrate = train_variant(fit_frame, VARIANTS[variant] | fit_extra, budget, validator,
                                                          seed)
            reached = next((t for t, v in curve if seed_val is not None and v <= seed_val), None)
            common = {"epochs": len(curve), "model_epoch": synth.meta["epoch"], "best_val_mmd2": min(v for _, v in curve),
                      "seconds_to_seed_val_mmd2": reached,
                      "fraction_of_seed_time": None if reached is None else round(reached / budget, 3)}
            # the same trained generator before and after its marginal calibration (training.calibration)
            for label in ("uncalibrated", "calibrated") if calibrate else ("uncalibrated",):
                if label == "calibrated":
                    synth.calibrate(data)
                key = name if label == "calibrated" or not calibrate else f"{name}~uncalibrated"
                rows = validator.synthetic(synth)
                report[key] = score(TraceData.from_matrix(rows), rows)[0] | common
                print(json.dumps({key: report[key]}), flush=True)
            if getattr(synth.transformer, "levels_", None):  # the same model without its slow levels: paired
                report[name]["levels"] = {k: v["weights"] for k, v in synth.meta["levels"].items()}
                plain = replace_transformer(synth, synth.transformer.with_levels(None))
                for model, key in ((plain, f"{name}~nolevels"), (synth, f"{name}~streams"),
                                   (plain, f"{name}~nolevels~streams")):
                    # ~streams: as many 1,000-row streams as the test part has blocks, laid end to end (the
                    # blocks split's test rows are 1,000-row blocks from across the trace, not one stretch)
                    rows = validator.synthetic(model) if not key.endswith("~streams") else \
                        stream_blocks(model, len(validation), args.split, validator.seed)
                    report[key] = score(TraceData.from_matrix(rows), rows)[0] | common
                    print(json.dumps({key: report[key]}), flush=True)
        if len(seeds) > 1:
            spread = {}
            for key in ("val_mmd2", "val_fields", "test_fields"):
                vals = [report[f"{variant}@{s}"][key] for s in seeds]  # as registered (calibrated if it is)
                spread[key] = {"values": vals, "max_over_min": max(vals) / min(vals)}
            report[f"{variant}_spread"] = spread
            print(json.dumps({f"{variant}_spread": report[f"{variant}_spread"]}), flush=True)
    print(json.dumps(report, indent=1))
    print(_table(report))


if __name__ == "__main__":
    main()
