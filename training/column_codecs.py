"""One column <-> [-1, 1] (``Continuous``), integers in quantile buckets (``Buckets``), and the normal
CDF both the typed encodings and the ONNX graph use (``normal_cdf``): the per-column codecs of
``training.encodings.TypedTransformer``, NumPy only."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["QUANTILES", "NORMAL_SCALE", "ERF_AS", "normal_cdf", "knot_cdf", "Continuous", "Buckets"]

QUANTILES = 512
_EPS = 0.0005
NORMAL_SCALE = 3.2905267314918945  # -Φ⁻¹(0.0005): probability 0.0005 maps to -1
ERF_AS = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)  # Abramowitz & Stegun 7.1.26


def knot_cdf(knots) -> tuple[np.ndarray, np.ndarray]:
    """``(values, probabilities)`` for ``np.interp``: the CDF of a column stored as quantiles on a
    uniform grid, an atom (a value repeated over several knots) mapped to the middle of its range."""
    knots = np.asarray(knots, np.float64)
    grid = np.linspace(0.0, 1.0, len(knots))
    uniq, first = np.unique(knots, return_index=True)
    last = len(knots) - 1 - np.unique(knots[::-1], return_index=True)[1]
    return uniq, (grid[first] + grid[last]) / 2.0


def normal_cdf(y):
    """``normal`` encoding: [-1, 1] -> probability, Φ(NORMAL_SCALE · y), for a NumPy array or a torch
    tensor with the same float64 arithmetic (erf to 1.5e-7 by Abramowitz & Stegun 7.1.26, from exp
    alone: onnxruntime has no float64 Erf, and both paths must give the same rows)."""
    lib = np if isinstance(y, np.ndarray) else __import__("torch")
    x = lib.abs(y) * (NORMAL_SCALE / math.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (ERF_AS[0] + t * (ERF_AS[1] + t * (ERF_AS[2] + t * (ERF_AS[3] + t * ERF_AS[4]))))
    half = 0.5 * (1.0 - poly * lib.exp(-x * x))  # erf(x) / 2
    return lib.where(y >= 0, 0.5 + half, 0.5 - half)


class Continuous:
    """One continuous column <-> [-1, 1]: log1p + MinMax, plain MinMax, or empirical quantiles —
    ``quantile`` spreads them uniformly over [-1, 1], ``normal`` as a standard normal scaled by
    1 / ``NORMAL_SCALE`` (probability 0.0005 and 0.9995 at -1 and 1), which a tanh output reaches
    without saturating for the bulk of the values."""

    def __init__(self, kind: str, params: dict[str, Any] | None = None) -> None:
        self.kind, self.p = kind, params or {}

    @classmethod
    def fit(cls, kind: str, x: np.ndarray) -> Continuous:
        if kind in ("quantile", "normal"):
            knots = np.quantile(x, np.linspace(0.0, 1.0, QUANTILES))
            return cls(kind, {"knots": knots.tolist()})
        v = np.log1p(np.maximum(x, 0.0)) if kind == "log" else x
        return cls(kind, {"min": float(v.min()), "max": float(v.max())})

    def transform(self, x: np.ndarray) -> np.ndarray:
        if self.kind in ("quantile", "normal"):
            p = np.interp(x, *knot_cdf(self.p["knots"]))
            if self.kind == "quantile":
                return 2.0 * p - 1.0
            from scipy.special import ndtri

            return np.clip(ndtri(np.clip(p, _EPS, 1.0 - _EPS)) / NORMAL_SCALE, -1.0, 1.0)
        v = np.log1p(np.maximum(x, 0.0)) if self.kind == "log" else x
        span = self.p["max"] - self.p["min"]
        return (v - self.p["min"]) * (2.0 / span if span > 0 else 1.0) - 1.0

    def inverse(self, y: np.ndarray) -> np.ndarray:
        y = np.clip(y, -1.0, 1.0)
        if self.kind in ("quantile", "normal"):
            knots = np.asarray(self.p["knots"])
            p = (y + 1.0) / 2.0 if self.kind == "quantile" else normal_cdf(y)
            return np.interp(p, np.linspace(0.0, 1.0, len(knots)), knots)
        span = self.p["max"] - self.p["min"]
        v = (y + 1.0) * (span / 2.0 if span > 0 else 1.0) + self.p["min"]
        return np.expm1(v) if self.kind == "log" else v

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.p}


class Buckets:
    """Integer values in quantile buckets ``[edges[b], edges[b + 1])`` and a position in [-1, 1]
    within each on a signed log1p scale, ``sign(v) log(1 + |v|)``: a stride bucket that spans
    zero keeps most of its values near zero, as a trace's small steps are."""

    def __init__(self, edges) -> None:
        self.edges = np.asarray(edges, np.int64)

    @classmethod
    def fit(cls, values: np.ndarray, k: int) -> Buckets:
        if not len(values):
            return cls([0, 1])
        edges = np.unique(np.rint(np.quantile(values, np.linspace(0.0, 1.0, k + 1))).astype(np.int64))
        return cls(np.append(edges[:-1], values.max() + 1) if len(edges) > 1 else [edges[0], edges[0] + 1])

    def __len__(self) -> int:
        return len(self.edges) - 1

    @staticmethod
    def _scale(v):
        v = np.asarray(v, np.float64)
        return np.sign(v) * np.log1p(np.abs(v))

    def _ends(self, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self._scale(self.edges[b]), self._scale(self.edges[b + 1] - 1)

    def encode(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bucket index and position in [-1, 1] of each value."""
        b = np.clip(np.searchsorted(self.edges, values, side="right") - 1, 0, len(self) - 1)
        lo, hi = self._ends(b)
        width = hi - lo
        pos = np.where(width > 0, (self._scale(values) - lo) / np.where(width > 0, width, 1.0), 0.0)
        return b, np.clip(pos, 0.0, 1.0) * 2.0 - 1.0

    def decode(self, b: np.ndarray, pos: np.ndarray) -> np.ndarray:
        lo, hi = self._ends(np.clip(b, 0, len(self) - 1))
        w = lo + (np.clip(pos, -1.0, 1.0) + 1.0) * 0.5 * (hi - lo)
        return np.sign(w) * np.expm1(np.abs(w))
