"""Feature-GAN augmentation against the oversamplers users would try, on GTZAN with an induced imbalance.

GTZAN is balanced (10 genres × 100), so imbalance is induced in the training part only: half the
genres (chosen with the seed, recorded) keep 20% of their training samples. One test split (30%,
drawn with seed 0) serves every seed, so tuning can be kept off it: the seeds differ in which
genres are cut and in every model's seed.

1. ``--trials N`` (0 skips it): ``tune_features`` on seed 0's imbalanced training part only
   (validation splits carved from it; the test split is never seen), timed.
2. Every method × classifier (logistic regression, random forest) over ``--seeds`` seeds:
   imbalanced, random oversampling, SMOTE, Borderline-SMOTE, ADASYN, and the GAN with the
   reference constants (``--gan_epochs``), unfiltered and filtered; then the tuned configuration,
   unfiltered and filtered, on the same splits.
3. The generators' quality on seed 0's training part (class MMD², PRDC, filter acceptance, TSTR).

Tables: ``--table mfcc13`` (13 MFCC means, the reference recipe's input) or ``all57`` (means and
variances of 20 MFCCs and the spectral features).

Usage: python bench/augmentation.py [--table mfcc13] [--seeds 5] [--gan_epochs 300] [--trials 24]
Target: the tuned GAN >= the best SMOTE variant on minority recall and macro-F1 for both
classifiers (mfcc13), within one sd (all57); tuning <= 30 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import GTZAN, require  # noqa: E402

TABLES = {"mfcc13": "mfcc{1..13}_mean",
          "all57": "chroma_stft_mean,chroma_stft_var,rms_mean,rms_var,spectral_centroid_mean,spectral_centroid_var,"
                   "spectral_bandwidth_mean,spectral_bandwidth_var,rolloff_mean,rolloff_var,zero_crossing_rate_mean,"
                   "zero_crossing_rate_var,harmony_mean,harmony_var,perceptr_mean,perceptr_var,tempo,"
                   "mfcc{1..20}_mean,mfcc{1..20}_var"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--table", choices=sorted(TABLES), default="mfcc13")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--gan_epochs", type=int, default=300)
    ap.add_argument("--keep_fraction", type=float, default=0.2)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--val_splits", type=int, default=2)
    args = ap.parse_args()
    require(GTZAN)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tempfile.mkdtemp()) / 'mlflow.db'}"
    from feature_gan.config import FeatureGANConfig, FeatureTuneOptions
    from feature_gan.data import load_features
    from feature_gan.evaluation import evaluate_augmentation, format_table, split_seed
    from feature_gan.quality import SampleFilter, quality_report
    from feature_gan.synthesizer import FeatureSynthesizer
    from feature_gan.tune import config_of, tune_features

    data = load_features(GTZAN, feature_columns=TABLES[args.table], label_column="label")
    train0, _, recipe0 = split_seed(data, 0, keep_fraction=args.keep_fraction, split=0)
    print(f"GTZAN {len(data.y)} tracks, table {args.table} ({data.x.shape[1]} features); seeds {args.seeds}; keep "
          f"{args.keep_fraction} of half the genres; one test split (seed 0); seed 0's training part "
          f"{len(train0.y)} samples, minority {recipe0['minority_classes']}", flush=True)
    reference = FeatureGANConfig(epochs=args.gan_epochs)
    tuned, tuned_filter, out = None, False, {"table": args.table, "seeds": args.seeds}
    if args.trials:
        start = time.perf_counter()
        result = tune_features(train0, FeatureTuneOptions(n_trials=args.trials, val_splits=args.val_splits,
                                                          register_as=""))
        out["tuning_seconds"] = time.perf_counter() - start
        out["tuning_best"] = {"value": result.best_value, "params": result.best_params}
        print(f"tuning: {args.trials} trials ({result.trials} complete, {result.pruned} pruned) in "
              f"{out['tuning_seconds']:.0f} s; best validation objective "
              f"{result.best_value:.4f} with {result.best_params}", flush=True)
        tuned, tuned_filter = config_of(result.best_params, reference)
    base = evaluate_augmentation(data, seeds=args.seeds, keep_fraction=args.keep_fraction, gan_config=reference,
                                 split=0, log_run=False)
    print(f"\nreference constants, {args.gan_epochs} epochs (gan, gan_filtered), and the oversamplers:")
    print(format_table(base["summary"]))
    out["summary"] = base["summary"]
    if tuned is not None:
        best = evaluate_augmentation(data, seeds=args.seeds, keep_fraction=args.keep_fraction, gan_config=tuned,
                                     split=0, methods=("gan", "gan_filtered"), log_run=False)
        print(f"\ntuned configuration (the study chose filter={tuned_filter}):")
        print(format_table(best["summary"]))
        out["summary_tuned"] = best["summary"]
    for name, config in (("reference", reference), ("tuned", tuned)):
        if config is None:
            continue
        synth = FeatureSynthesizer(config).fit(train0)
        q = quality_report(synth, train0, sample_filter=SampleFilter(train0))
        out[f"quality_{name}"] = {k: v for k, v in q.items() if k != "per_class"}
        print(f"quality ({name}, seed 0's training part): " + ", ".join(f"{k} {v:.3f}" for k, v in q.items()
                                                                        if k != "per_class"))
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
