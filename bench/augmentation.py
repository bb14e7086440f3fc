"""GAN augmentation vs random oversampling vs SMOTE on GTZAN's 13 MFCC means (induced imbalance).

GTZAN is balanced (10 genres × 100), so imbalance is induced in each seed's training split only:
half the genres (chosen with the seed, recorded) keep 20% of their training samples. Classifiers
(logistic regression, random forest) are evaluated on the untouched real test split; mean ± sd
over the seeds. The GAN is ganflow's conditional WGAN-GP with the seed's constants, trained on
the imbalanced training part of each seed for ``--gan_epochs`` epochs.

Usage: python bench/augmentation.py [--seeds 5] [--gan_epochs 300]
Target: the GAN matches or beats SMOTE on minority-class recall and macro-F1.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import GTZAN, require  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--gan_epochs", type=int, default=300)
    ap.add_argument("--keep_fraction", type=float, default=0.2)
    args = ap.parse_args()
    require(GTZAN)
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tempfile.mkdtemp()) / 'mlflow.db'}"
    from feature_gan.config import FeatureGANConfig
    from feature_gan.data import load_features
    from feature_gan.evaluation import evaluate_augmentation, format_table

    data = load_features(GTZAN, feature_columns="mfcc{1..13}_mean", label_column="label")
    report = evaluate_augmentation(data, seeds=args.seeds, keep_fraction=args.keep_fraction,
                                   gan_config=FeatureGANConfig(epochs=args.gan_epochs))
    print(f"GTZAN {len(data.y)} tracks, 13 MFCC means; seeds {args.seeds}; keep {args.keep_fraction} of half the genres; "
          f"GAN epochs {args.gan_epochs}")
    print("minority genres per seed:", [r["minority_classes"] for r in report["recipes"]])
    print(format_table(report["summary"]))


if __name__ == "__main__":
    main()
