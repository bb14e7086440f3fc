"""Does GAN augmentation help a classifier? Imbalanced real data vs the oversamplers users would
try (random, SMOTE, Borderline-SMOTE, ADASYN) vs the GAN, unfiltered and filtered.

Per seed: a stratified train/test split (or one split for every seed, ``split``); imbalance
induced in the training part only, by a recorded recipe (half the classes, chosen with the
random seed, keep ``keep_fraction`` of their training samples, at least ``min_keep``); the same
classifiers (logistic regression on standardised features, random forest; fixed seeds) trained
on each method's balanced set (every class up to the majority count; the GAN is trained on the
imbalanced training part only); all evaluated on the untouched real test split. Reported as
mean ± sd over seeds: per-class recall, minority-class recall, macro-F1 and balanced accuracy.
Logged as one MLflow parent run (summary JSON, table, plot) with a child run per seed.
docs/FEATURES.md has what it measured on GTZAN.
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
METHODS = ("imbalanced", "random_oversampling", "smote", "borderline_smote", "adasyn", "gan", "gan_filtered")
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


def oversample(method: str, x: np.ndarray, y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Every class up to the majority count with an imbalanced-learn sampler (``imbalanced``: as is).
    A sampler that cannot run on this data (ADASYN finds no class borders) leaves it as is, logged."""
    from imblearn.over_sampling import ADASYN, SMOTE, BorderlineSMOTE, RandomOverSampler

    if method == "imbalanced":
        return x, y
    k = max(1, min(5, int(np.bincount(y).min()) - 1))
    sampler = {"random_oversampling": lambda: RandomOverSampler(random_state=seed),
               "smote": lambda: SMOTE(random_state=seed, k_neighbors=k),
               "borderline_smote": lambda: BorderlineSMOTE(random_state=seed, k_neighbors=k, m_neighbors=max(k, 5)),
               "adasyn": lambda: ADASYN(random_state=seed, n_neighbors=k)}[method]()
    try:
        return sampler.fit_resample(x, y)
    except (ValueError, RuntimeError) as exc:
        log.warning("%s could not resample (seed %d): %s; its row is the imbalanced data", method, seed, exc)
        return x, y


def gan_balance(gan, data: FeatureData, *, seed: int, use_filter: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Every class of ``data`` up to the majority count with generated vectors (``augment``'s ``equal``)."""
    from feature_gan.augment import balance_counts, synthesize_counts

    extra, labels = synthesize_counts(gan, data, balance_counts(data.counts(), "equal"), seed, use_filter)
    return np.vstack([data.x, extra]), np.concatenate([data.y, [data.classes.index(c) for c in labels]]).astype(np.int64)


def fit_gan(x: np.ndarray, y: np.ndarray, classes: list[str], config: FeatureGANConfig, seed: int):
    from feature_gan.synthesizer import FeatureSynthesizer

    data = FeatureData(x, y, classes, [f"f{i}" for i in range(x.shape[1])], "train-split")
    return FeatureSynthesizer(replace(config, seed=seed)).fit(data)


def utility(x_tr, y_tr, x_te, y_te, classes: list[str], minority: list[str], *, seed: int,
            methods: tuple[str, ...] = METHODS, gan_config: FeatureGANConfig | None = None) -> dict:
    """``{method/classifier: scores}`` of each method's balanced training set, scored on (x_te, y_te)."""
    out, gan = {}, None
    for method in methods:
        if method.startswith("gan"):
            gan = gan or fit_gan(x_tr, y_tr, classes, gan_config or FeatureGANConfig(), seed)
            xb, yb = gan_balance(gan, FeatureData(x_tr, y_tr, classes, gan.feature_names), seed=seed,
                                 use_filter=method == "gan_filtered")
        else:
            xb, yb = oversample(method, x_tr, y_tr, seed)
        for clf_name in CLASSIFIERS:
            clf = _classifier(clf_name, seed).fit(xb, yb)
            out[f"{method}/{clf_name}"] = _scores(y_te, clf.predict(x_te), classes, minority)
    return out


def _scores(y_true, y_pred, classes, minority: list[str]) -> dict:
    from sklearn.metrics import balanced_accuracy_score, f1_score, recall_score

    recall = recall_score(y_true, y_pred, labels=range(len(classes)), average=None, zero_division=0)
    per_class = {f"recall_{c}": float(r) for c, r in zip(classes, recall)}
    minority_recall = float(np.mean([per_class[f"recall_{c}"] for c in minority]))
    return {"minority_recall": minority_recall, "macro_f1": float(f1_score(y_true, y_pred, average="macro")),
            "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)), **per_class}


def split_seed(data: FeatureData, seed: int, *, keep_fraction: float, min_keep: int = 6, test_size: float = 0.3,
               split: int | None = None) -> tuple[FeatureData, FeatureData, dict]:
    """Seed ``seed``'s imbalanced training part and untouched test part (the test split drawn with
    ``split`` when given, so every seed shares one test split), and the imbalance recipe."""
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(data.x, data.y, test_size=test_size, stratify=data.y,
                                              random_state=seed if split is None else split)
    keep, recipe = _induce(y_tr, data.classes, np.random.default_rng(seed), keep_fraction, min_keep)
    x_tr, y_tr = x_tr[keep], y_tr[keep]
    recipe["train_counts"] = {c: int((y_tr == i).sum()) for i, c in enumerate(data.classes)}
    return _part(data, x_tr, y_tr, f"train-{seed}"), _part(data, x_te, y_te, f"test-{seed}"), recipe


def _part(data: FeatureData, x: np.ndarray, y: np.ndarray, what: str) -> FeatureData:
    return FeatureData(x, y, list(data.classes), list(data.feature_names), f"{data.source}#{what}")


def run_seed(data: FeatureData, seed: int, *, keep_fraction: float, min_keep: int, test_size: float,
             gan_config: FeatureGANConfig, methods: tuple[str, ...] = METHODS,
             split: int | None = None) -> tuple[dict, dict]:
    train, test, recipe = split_seed(data, seed, keep_fraction=keep_fraction, min_keep=min_keep, test_size=test_size,
                                     split=split)
    out = utility(train.x, train.y, test.x, test.y, data.classes, recipe["minority_classes"], seed=seed,
                  methods=methods, gan_config=gan_config)
    return out, recipe


def evaluate_augmentation(data: FeatureData, *, seeds: int = 5, keep_fraction: float = 0.2, min_keep: int = 6,
                          test_size: float = 0.3, gan_config: FeatureGANConfig | None = None, log_run: bool = True,
                          experiment: str = "augmentation-eval", methods: tuple[str, ...] = METHODS,
                          split: int | None = None, gan_label: str = "") -> dict:
    """Mean ± sd over ``seeds`` of every method × classifier; see the module docstring. ``split``
    fixes one test split for every seed (what a tuned GAN needs: tuning saw only its training
    part); ``gan_label`` says where the GAN's config came from (e.g. a tuning study)."""
    import mlflow

    from training.tracking import lineage_tags, tracked_run

    gan_config = gan_config or FeatureGANConfig(epochs=300)
    per_seed, recipes = [], []
    description = (f"Augmentation utility on {data.source}: {seeds} seeds, minority classes cut to {keep_fraction:.0%}; "
                   f"classifiers trained on each balanced set ({', '.join(methods)}), scored on the untouched test "
                   f"split{' (one split for all seeds)' if split is not None else ''}."
                   f"{' GAN: ' + gan_label + '.' if gan_label else ''}")
    with (tracked_run(experiment=experiment, run_name=f"augment-eval-{Path(data.source).stem}", tags=lineage_tags(),
                      description=description) if log_run else contextlib.nullcontext()) as run:
        if run:
            mlflow.log_params({"seeds": seeds, "keep_fraction": keep_fraction, "min_keep": min_keep, "test_size": test_size,
                               "data": data.source, "methods": ",".join(methods), "split": split, "gan_label": gan_label,
                               "features": data.x.shape[1], **{f"gan_{k}": v for k, v in gan_config.to_dict().items()}})
            from feature_gan.pipeline import log_feature_table

            log_feature_table(data, "evaluation")
        from training import progress

        seed_bar = progress.bar(seeds, "seeds", unit="seed")
        for seed in range(seeds):
            scores, recipe = run_seed(data, seed, keep_fraction=keep_fraction, min_keep=min_keep, test_size=test_size,
                                      gan_config=gan_config, methods=methods, split=split)
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
            mlflow.log_text(format_table(summary), "augmentation_eval.txt")
            mlflow.log_figure(plot_summary(summary, title=f"{Path(data.source).name}, {seeds} seeds"),
                              "augmentation_eval.png")
    return {"summary": summary, "recipes": recipes, "run_id": run.info.run_id if run else None}


def plot_summary(summary: dict, *, title: str = ""):
    """Minority recall and macro-F1 per method (mean ± sd over seeds), one bar per classifier."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(dict.fromkeys(k.split("/")[0] for k in summary))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=False)
    width = 0.8 / len(CLASSIFIERS)
    for ax, metric in zip(axes, ("minority_recall", "macro_f1")):
        for i, clf in enumerate(CLASSIFIERS):
            keys = [f"{m}/{clf}" for m in methods]
            ax.bar(np.arange(len(methods)) + i * width, [summary[k][metric][0] for k in keys], width,
                   yerr=[summary[k][metric][1] for k in keys], capsize=3, label=clf)
        ax.set_xticks(np.arange(len(methods)) + width * (len(CLASSIFIERS) - 1) / 2, methods, rotation=30, ha="right")
        ax.set_title(metric.replace("_", " "))
        ax.grid(axis="y", alpha=0.3)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="upper right", ncol=len(CLASSIFIERS))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    plt.close(fig)
    return fig


def format_table(summary: dict) -> str:
    lines = [f"{'method/classifier':<28}{'minority recall':>20}{'macro-F1':>20}{'balanced acc':>20}"]
    for key, d in summary.items():
        cells = "".join(f"{d[m][0]:>13.3f} ± {d[m][1]:.3f}" for m in ("minority_recall", "macro_f1", "balanced_accuracy"))
        lines.append(f"{key:<28}{cells}")
    return "\n".join(lines)


def dumps(report: dict) -> str:
    return json.dumps(report, indent=1)
