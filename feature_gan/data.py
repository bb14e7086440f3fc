"""Labelled feature vectors (MFCCs by default) for the feature GAN: loaders and a writer.

Sources: the reference recipe's JSON (docs/REFERENCE.md F1) (``features`` or ``mfcc`` key; ``labels`` as class names or
indices; an optional ``mapping`` of class names), where each sample is a 1-D vector or a 2-D
``frames × n_mfcc`` array reduced by a documented choice (``mean`` of the frames, or
``mean_std``: the mean then the standard deviation of each coefficient) — 2-D data is never
faked back from vectors; and CSV tables like GTZAN's, with ``--feature_columns`` such as
``mfcc{1..13}_mean`` and ``--label_column label``.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from feature_gan.config import REDUCTIONS, FeatureInput
from training.errors import ConfigError, DataError

__all__ = ["FeatureData", "load_features", "load_input", "expand_columns", "REDUCTIONS"]


@dataclass
class FeatureData:
    """``x`` (n, d) float64, ``y`` (n,) int class indices into ``classes``."""

    x: np.ndarray
    y: np.ndarray
    classes: list[str]
    feature_names: list[str]
    source: str = ""
    schema: dict = field(default_factory=dict)  # how the input looked, so outputs keep it

    def counts(self) -> dict[str, int]:
        return {c: int((self.y == i).sum()) for i, c in enumerate(self.classes)}

    def check(self, *, min_per_class: int = 2) -> FeatureData:
        if not np.all(np.isfinite(self.x)):
            row = int(np.argwhere(~np.isfinite(self.x))[0][0])
            raise DataError(f"{self.source}: sample {row} has a NaN or infinite feature")
        small = {c: n for c, n in self.counts().items() if n < min_per_class}
        if small:
            raise DataError(f"{self.source}: classes with fewer than {min_per_class} samples: {small}")
        return self


def expand_columns(pattern: str) -> list[str]:
    """``mfcc{1..13}_mean`` -> mfcc1_mean … mfcc13_mean; commas separate several patterns."""
    out: list[str] = []
    for part in filter(None, (p.strip() for p in pattern.split(","))):
        m = re.search(r"\{(\d+)\.\.(\d+)\}", part)
        if m:
            a, b = int(m[1]), int(m[2])
            out += [part[:m.start()] + str(i) + part[m.end():] for i in range(a, b + 1)]
        else:
            out.append(part)
    return out


def _reduce(sample, reduce: str, path: Path, index: int) -> np.ndarray:
    try:
        arr = np.asarray(sample, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{path}: sample {index} is ragged or not numeric") from None
    if arr.ndim == 1:
        return arr
    if arr.ndim == 2:
        return arr.mean(0) if reduce == "mean" else np.concatenate([arr.mean(0), arr.std(0)])
    raise DataError(f"{path}: sample {index} has {arr.ndim} dimensions; expected a vector or frames × coefficients")


def _classes_from(labels: list, mapping, path: Path) -> tuple[np.ndarray, list[str]]:
    if isinstance(mapping, dict):  # {"blues": 0, ...} or {"0": "blues", ...}
        if all(isinstance(v, int) for v in mapping.values()):
            names = [k for k, _ in sorted(mapping.items(), key=lambda kv: kv[1])]
        else:
            names = [v for _, v in sorted(mapping.items(), key=lambda kv: int(kv[0]))]
    elif isinstance(mapping, list):
        names = [str(v) for v in mapping]
    else:
        names = None
    kinds = {type(v) for v in labels}
    if kinds <= {int}:
        names = names or [str(i) for i in range(max(labels) + 1)]
        bad = [v for v in labels if not 0 <= v < len(names)]
        if bad:
            raise DataError(f"{path}: label index {bad[0]} is not in the mapping of {len(names)} classes")
        return np.array(labels, np.int64), names
    if kinds <= {str}:
        names = names or sorted(set(labels))
        index = {n: i for i, n in enumerate(names)}
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise DataError(f"{path}: labels {unknown[:5]} are not in the mapping {names}")
        return np.array([index[v] for v in labels], np.int64), names
    raise DataError(f"{path}: labels mix types {sorted(k.__name__ for k in kinds)}; use all names or all indices")


def _load_json(path: Path, reduce: str) -> FeatureData:
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DataError.at(path, exc.lineno, exc.colno, f"not valid JSON ({exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not readable JSON ({exc})") from None
    key = "features" if "features" in data else "mfcc" if "mfcc" in data else None
    if key is None or "labels" not in data:
        raise DataError(f"{path}: expected keys 'features' (or 'mfcc') and 'labels', found {sorted(data)[:10]}")
    samples, labels = data[key], data["labels"]
    if len(samples) != len(labels):
        raise DataError(f"{path}: {len(samples)} samples but {len(labels)} labels")
    rows = [_reduce(s, reduce, path, i) for i, s in enumerate(samples)]
    dims = {len(r) for r in rows}
    if len(dims) != 1:
        bad = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise DataError(f"{path}: ragged rows: sample 0 has {len(rows[0])} values, sample {bad} has {len(rows[bad])}")
    y, classes = _classes_from(labels, data.get("mapping"), path)
    d = dims.pop()
    schema = {"format": "json", "key": key, "label_kind": "index" if isinstance(labels[0], int) else "name",
              "extra": {k: v for k, v in data.items() if k not in (key, "labels")}}
    return FeatureData(np.vstack(rows), y, classes, [f"f{i}" for i in range(d)], str(path), schema)


def _load_csv(path: Path, feature_columns: str, label_column: str) -> FeatureData:
    columns = expand_columns(feature_columns)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise DataError(f"{path}: empty file")
        missing = [c for c in [*columns, label_column] if c not in header]
        if missing:
            raise DataError(f"{path}:1: header lacks {missing[:5]} (set --feature_columns / --label_column)")
        idx, lab = [header.index(c) for c in columns], header.index(label_column)
        rows, labels = [], []
        for lineno, fields in enumerate(reader, 2):
            if len(fields) != len(header):
                raise DataError(f"{path}:{lineno}: expected {len(header)} fields, found {len(fields)}")
            try:
                rows.append([float(fields[i]) for i in idx])
            except ValueError:
                bad = next(i for i in idx if not _is_float(fields[i]))
                raise DataError(f"{path}:{lineno}:{bad + 1}: cannot parse {fields[bad]!r} as a number") from None
            labels.append(fields[lab])
    if not rows:
        raise DataError(f"{path}: no data rows")
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    schema = {"format": "csv", "header": header, "feature_columns": columns, "label_column": label_column}
    return FeatureData(np.array(rows), np.array([index[v] for v in labels]), classes, columns, str(path), schema)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def load_features(path: str | Path, *, reduce: str = "mean", feature_columns: str = "mfcc{1..13}_mean",
                  label_column: str = "label", min_per_class: int = 2) -> FeatureData:
    """Read a feature JSON (the reference recipe's) or CSV table (by extension) and validate it."""
    if reduce not in REDUCTIONS:
        raise ConfigError(f"reduce must be one of {', '.join(REDUCTIONS)}, but got {reduce!r}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    data = _load_csv(path, feature_columns, label_column) if path.suffix.lower() == ".csv" else _load_json(path, reduce)
    return data.check(min_per_class=min_per_class)


def load_input(path: str | Path, table: FeatureInput | None = None, *, min_per_class: int = 2) -> FeatureData:
    """``load_features`` with the reading options of a ``FeatureInput`` (default: its defaults)."""
    return load_features(path, **(table or FeatureInput()).to_dict(), min_per_class=min_per_class)
