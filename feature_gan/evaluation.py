"""Does GAN augmentation help a classifier? Imbalanced real data vs random oversampling vs SMOTE vs GAN.

Per seed: a stratified train/test split; imbalance induced in the training part only, by a
recorded recipe (half the classes, chosen with the random seed, keep ``keep_fraction`` of their training
samples, at least ``min_keep``); the same classifiers (logistic regression on standardised
features, random forest; fixed seeds) trained on (a) the imbalanced data, (b) + random
oversampling, (c) + SMOTE, (d) + GAN samples (a feature GAN trained on the imbalanced training
part only), each balanced up to the majority count; all evaluated on the untouched real test
split. Reported as mean ± sd over seeds: per-class recall, minority-class recall, macro-F1 and
balanced accuracy. Logged as one MLflow parent run with a child run per seed.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np

from feature_gan.config import FeatureGANConfig
from feature_gan.data import FeatureData

__all__ = ["evaluate_augmentation", "METHODS", "CLASSIFIERS"]

log = logging.getLogger(__name__)
METHODS = ("imbalanced", "random_oversampling", "smote", "gan")
CLASSIFIERS = ("logreg", "forest")


def _induce(y: np.ndarray, classes: list[str], rng, keep_fraction: float, min_keep: int) -> tuple[np.ndarray, dict]:
    minority = sorted(rng.choice(len(classes), len(classes) // 2, replace=False).tolist())
    keep = np.ones(len(y), bool)
    for c in minority:
        idx = np.flatnonzero(y == c)
        n = max(min_keep, int(round(len(idx) * keep_fraction)))
        keep[rng.permutation(idx)[n:]] = False
    return keep, {"minority_classes": [classes[c] for c in minority], "keep_fraction": keep_fraction}


def _classifier(name: str, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if name == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, random_state=seed))
    return RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1)


def _balanced(method: str, x, y, classes, seed: int, gan_config: FeatureGANConfig):
    from imblearn.over_sampling import SMOTE, RandomOverSampler

    if method == "imbalanced":
        return x, y
    if method == "random_oversampling":
        return RandomOverSampler(random_state=seed).fit_resample(x, y)
    if method == "smote":
        k = max(1, min(5, int(np.bincount(y).min()) - 1))
        return SMOTE(random_state=seed, k_neighbors=k).fit_resample(x, y)
    from feature_gan.synthesizer import FeatureSynthesizer

    data = FeatureData(x, y, classes, [f"f{i}" for i in range(x.shape[1])], "train-split")
    gan = FeatureSynthesizer(replace(gan_config, seed=seed)).fit(data)
    top = int(np.bincount(y).max())
    extra = [(gan.sample(c, top - int((y == c).sum()), seed=seed), c) for c in range(len(classes))]
    return (np.vstack([x, *(e for e, _ in extra)]), np.concatenate([y, *(np.full(len(e), c) for e, c in extra)]))


def _scores(y_true, y_pred, classes, minority: list[str]) -> dict:
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

    recall = recall_score(y_true, y_pred, labels=range(len(classes)), average=None, zero_division=0)
    per_class = {f"recall_{c}": float(r) for c, r in zip(classes, recall)}
    minority_recall = float(np.mean([per_class[f"recall_{c}"] for c in minority]))
    return {"minority_recall": minority_recall, "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)), **per_class}


def run_seed(data: FeatureData, seed: int, *, keep_fraction: float, min_keep: int, test_size: float,
             gan_config: FeatureGANConfig) -> tuple[dict, dict]:
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(data.x, data.y, test_size=test_size, stratify=data.y, random_state=seed)
    keep, recipe = _induce(y_tr, data.classes, np.random.default_rng(seed), keep_fraction, min_keep)
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    recipe["train_counts"] = {c: int((y_tr == i).sum()) for i, c in enumerate(data.classes)}
    out = {}
    for method in METHODS:
        xb, yb = _balanced(method, x_tr, y_tr, data.classes, seed, gan_config)
        for clf_name in CLASSIFIERS:
            clf = _classifier(clf_name, seed).fit(xb, yb)
            out[f"{method}/{clf_name}"] = _scores(y_te, clf.predict(x_te), data.classes, recipe["minority_classes"])
    return out, recipe


def evaluate_augmentation(data: FeatureData, *, seeds: int = 5, keep_fraction: float = 0.2, min_keep: int = 6,
                          test_size: float = 0.3, gan_config: FeatureGANConfig | None = None, log_run: bool = True,
                          experiment: str = "augmentation-eval") -> dict:
    """Mean ± sd over ``seeds`` of every method × classifier; see the module docstring."""
    import mlflow

    from training.tracking import lineage_tags, tracked_run

    gan_config = gan_config or FeatureGANConfig(epochs=300)
    per_seed, recipes = [], []
    description = (f"Augmentation utility on {data.source}: {seeds} seeds, minority classes cut to {keep_fraction:.0%}; "
                   "classifiers trained on each balanced set, scored on the untouched test split.")
    with (tracked_run(experiment=experiment, run_name=f"augment-eval-{Path(data.source).stem}", tags=lineage_tags(),
                      description=description) if log_run else contextlib.nullcontext()) as run:
        if run:
            mlflow.log_params({"seeds": seeds, "keep_fraction": keep_fraction, "min_keep": min_keep, "test_size": test_size,
                               "data": data.source, **{f"gan_{k}": v for k, v in gan_config.to_dict().items()}})
            from feature_gan.pipeline import log_feature_table

            log_feature_table(data, "evaluation")
        from training import progress

        seed_bar = progress.bar(seeds, "seeds", unit="seed")
        for seed in range(seeds):
            scores, recipe = run_seed(data, seed, keep_fraction=keep_fraction, min_keep=min_keep, test_size=test_size,
                                      gan_config=gan_config)
            seed_bar.update(1)
            per_seed.append(scores)
            recipes.append(recipe)
            if run:
                with tracked_run(experiment=None, nested=True, run_name=f"seed-{seed}"):
                    mlflow.log_params({"seed": seed, "minority_classes": ",".join(recipe["minority_classes"])})
                    mlflow.log_dict(recipe, "imbalance_recipe.json")
                    mlflow.log_metrics({f"{k.replace('/', '.')}.{m}": v for k, d in scores.items() for m, v in d.items()})
        seed_bar.close()
        summary = {key: {m: [float(np.mean([s[key][m] for s in per_seed])), float(np.std([s[key][m] for s in per_seed]))]
                         for m in ("minority_recall", "macro_f1", "balanced_accuracy")} for key in per_seed[0]}
        if run:
            mlflow.log_metrics({f"{k.replace('/', '.')}.{m}_mean": v[0] for k, d in summary.items() for m, v in d.items()})
            mlflow.log_dict({"summary": summary, "recipes": recipes, "per_seed": per_seed}, "augmentation_eval.json")
    return {"summary": summary, "recipes": recipes, "run_id": run.info.run_id if run else None}


def format_table(summary: dict) -> str:
    lines = [f"{'method/classifier':<28}{'minority recall':>20}{'macro-F1':>20}{'balanced acc':>20}"]
    for key, d in summary.items():
        cells = "".join(f"{d[m][0]:>13.3f} ± {d[m][1]:.3f}" for m in ("minority_recall", "macro_f1", "balanced_accuracy"))
        lines.append(f"{key:<28}{cells}")
    return "\n".join(lines)


def dumps(report: dict) -> str:
    return json.dumps(report, indent=1)
