"""Dataset balancing with a trained feature GAN (``ganflow augment``), and the reference recipe's ``GanAugmenter``.

Methods: ``equal`` — every class up to the majority count; ``upsample`` — each class +50%
(rounded up); ``custom`` — N per class, where a class already above N keeps all its real
samples (real data is never dropped). The output keeps the input's schema (JSON keys and label
kind, or the CSV header) and says what was done: ``augmented``, ``original_samples``,
``synthetic_samples``, ``augmentation_ratio``, per-class counts before and after, the source
model and, per row, whether it is synthetic (JSON ``is_synthetic``; CSV column ``synthetic``).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np

from feature_gan.data import FeatureData, load_features
from feature_gan.synthesizer import FeatureSynthesizer
from training.errors import ConfigError, ModelError
from training.utils import atomic_output

__all__ = ["METHODS", "balance_counts", "synthesize_counts", "augment_file", "GanAugmenter"]

METHODS = ("equal", "upsample", "custom")


def balance_counts(counts: dict[str, int], method: str, target: int | None = None) -> dict[str, int]:
    """Per-class totals after balancing; never fewer than the real count."""
    if method == "equal":
        top = max(counts.values())
        return {c: top for c in counts}
    if method == "upsample":
        return {c: math.ceil(n * 1.5) for c, n in counts.items()}
    if method == "custom":
        if target is None or target < 1:
            raise ConfigError(f"--method custom needs --target-samples N >= 1, but got {target}")
        return {c: max(n, target) for c, n in counts.items()}
    raise ConfigError(f"method must be one of {', '.join(METHODS)}, but got {method!r}")


def synthesize_counts(model: FeatureSynthesizer, data: FeatureData, after: dict[str, int], seed: int,
                      use_filter: bool = False) -> tuple[np.ndarray, list[str]]:
    """Generated vectors taking each class of ``data`` up to ``after`` (filtered with
    ``feature_gan.quality.SampleFilter`` fitted on ``data`` when asked), and their labels."""
    if data.x.shape[1] != len(model.feature_names):
        raise ModelError(f"model makes {len(model.feature_names)} features, {data.source} has {data.x.shape[1]}")
    missing = [c for c in data.classes if c not in model.classes]
    if missing:
        raise ModelError(f"model does not know classes {missing} of {data.source}; it knows {model.classes}")
    blocks, labels = [], []
    if use_filter:
        from feature_gan.quality import SampleFilter

        sample_filter = SampleFilter(data, seed=seed)
    have = data.counts()
    for c, total in after.items():
        n = total - have[c]
        if n > 0:
            blocks.append(sample_filter.sample(model, data.classes.index(c), n, seed=seed, label=c)[0] if use_filter
                          else model.sample(c, n, seed=seed))
            labels += [c] * n
    return (np.vstack(blocks) if blocks else np.empty((0, data.x.shape[1]))), labels


def _write_json(data: FeatureData, synth: np.ndarray, labels: list[str], meta: dict, out: Path, overwrite: bool) -> None:
    schema = data.schema
    as_index = schema["label_kind"] == "index"
    orig_labels = [int(v) if as_index else data.classes[v] for v in data.y]
    new_labels = [data.classes.index(c) if as_index else c for c in labels]
    doc = {**schema["extra"], schema["key"]: np.vstack([data.x, synth]).tolist(), "labels": orig_labels + new_labels,
           "is_synthetic": [False] * len(data.y) + [True] * len(labels), **meta}
    with atomic_output(out, overwrite=overwrite) as fh:
        json.dump(doc, fh)


def _write_csv(data: FeatureData, synth: np.ndarray, labels: list[str], meta: dict, out: Path, overwrite: bool) -> None:
    schema = data.schema
    with open(data.source, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    header = [*schema["header"], "synthetic"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows([*r, 0] for r in rows)
    idx = {c: schema["header"].index(c) for c in [*schema["feature_columns"], schema["label_column"]]}
    for vec, label in zip(synth, labels):
        row = [""] * len(schema["header"])
        for col, v in zip(schema["feature_columns"], vec):
            row[idx[col]] = repr(float(v))
        row[idx[schema["label_column"]]] = label
        w.writerow([*row, 1])
    with atomic_output(out, overwrite=overwrite) as fh:
        fh.write(buf.getvalue())
    with atomic_output(Path(f"{out}.meta.json"), overwrite=True) as fh:
        json.dump(meta, fh, indent=2)


def augment_file(model: FeatureSynthesizer, input_path: str | Path, output_path: str | Path, *, method: str,
                 target_samples: int | None = None, seed: int = 0, source_model: dict | None = None,
                 overwrite: bool = False, use_filter: bool = False, **load_kw) -> dict:
    """Balance ``input_path`` with ``model`` and write ``output_path``; returns the metadata.
    ``use_filter``: generated vectors must pass ``feature_gan.quality.SampleFilter`` fitted on the input."""
    data = load_features(input_path, **load_kw)
    before = data.counts()
    after = balance_counts(before, method, target_samples)
    synth, labels = synthesize_counts(model, data, after, seed, use_filter)
    n0 = len(data.y)
    meta = {"augmented": True, "augmentation_method": method, "original_samples": n0, "synthetic_samples": len(labels),
            "augmentation_ratio": len(labels) / n0, "class_counts_before": before, "class_counts_after": after,
            "source_model": source_model or {}, "seed": seed, "filtered": use_filter}
    writer = _write_csv if data.schema["format"] == "csv" else _write_json
    writer(data, synth, labels, meta, Path(output_path), overwrite)
    return meta


class GanAugmenter:
    """The reference recipe's programmatic API (docs/REFERENCE.md F6), backed by a saved or logged ``FeatureSynthesizer``."""

    def __init__(self, generator_path: str, num_classes: int | None = None, feature_dim: int | None = None) -> None:
        from feature_gan.pipeline import load_feature_model

        self.model = load_feature_model(generator_path)
        if num_classes is not None and num_classes != len(self.model.classes):
            raise ModelError(f"num_classes={num_classes} but the model has {len(self.model.classes)}")
        if feature_dim is not None and feature_dim != len(self.model.feature_names):
            raise ModelError(f"feature_dim={feature_dim} but the model makes {len(self.model.feature_names)}")

    def generate_samples(self, num_samples: int, class_idx: int, seed: int = 0) -> np.ndarray:
        return self.model.sample(int(class_idx), num_samples, seed=seed)

    def balance_dataset(self, input_data_path: str, output_data_path: str, balance_method: str = "equal",
                        target_samples: int | None = None) -> dict:
        return augment_file(self.model, input_data_path, output_data_path, method=balance_method,
                            target_samples=target_samples, overwrite=True)
