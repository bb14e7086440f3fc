"""TraceTransformer: trace columns <-> the scaled features the networks see (NumPy only).

Two encodings, both per-column MinMax to [-1, 1] (the range of the generator's tanh):

* ``absolute`` reproduces the reference recipe exactly (docs/REFERENCE.md): timestamp, length,
  LBA and latency are scaled as they are, with scikit-learn's MinMaxScaler formula (a constant
  column maps to -1).
* ``delta`` replaces the absolute timestamp by the inter-arrival time. Absolute time grows without
  bound, so a window of 12 rows sees a nearly constant value and a generator can only learn
  "somewhere in the trace"; inter-arrival times are stationary, and the cumulative sum on output
  restores monotonic timestamps. Heavy-tailed columns (length, latency, inter-arrival) can be
  ``log1p``-compressed first so the few huge values do not squeeze the rest into one bin.

Everything the inverse needs is in ``to_dict()``, which is plain JSON (no pickle). The third mode,
``typed`` (categorical sizes and opcode, optional latency), is ``training.encodings``; ``from_dict``
and ``load`` return whichever class the saved mode names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from training.config import FEATURE_MODE_ALIASES, FEATURE_MODES, ROW_COLUMNS, TRACE_COLUMNS
from training.errors import ConfigError, ModelError
from training.readers import TraceFrame
from training.units import with_origin

__all__ = ["TraceTransformer", "Stream"]

_FORMAT_VERSION = 1


class TraceTransformer:
    """Fit / transform / inverse_transform between a ``TraceFrame`` and ``(n, 4)`` features."""

    def __init__(self, *, mode: str = "absolute", log1p: tuple[str, ...] = ()) -> None:
        mode = FEATURE_MODE_ALIASES.get(mode, mode)  # models saved as "seed"
        if mode not in FEATURE_MODES:
            raise ConfigError(f"mode must be one of {', '.join(FEATURE_MODES)}, but got {mode!r}")
        self.mode = mode
        self.log1p = tuple(log1p)
        self._log_mask = np.array([c in self.log1p for c in TRACE_COLUMNS])
        self.data_min_: np.ndarray | None = None
        self.data_max_: np.ndarray | None = None
        self.time_quantum_ = 1.0

    heads: tuple[int, ...] = ()  # no one-hot groups: every feature is continuous
    sticky_: tuple[float, ...] = ()  # no heads, none of their noise kept (training.sticky)
    units_: dict | None = None  # the training frame's units (training.units); None in older models
    locality = "none"  # the LBA is a scaled number (typed mode can decode it through an LRU stack)
    columns = TRACE_COLUMNS  # what the rows hold (these models always wrote latency)

    @property
    def feature_names(self) -> tuple[str, ...]:
        return ("interarrival",) + TRACE_COLUMNS[1:] if self.mode == "delta" else TRACE_COLUMNS

    def _features(self, frame: TraceFrame) -> np.ndarray:
        x = frame.values()
        if self.mode == "delta":
            # Out-of-order requests give negative gaps; a gap cannot be negative, so clip to 0.
            x[:, 0] = np.maximum(np.diff(x[:, 0], prepend=x[0, 0]), 0.0)
        x[:, self._log_mask] = np.log1p(x[:, self._log_mask])
        return x

    def fit(self, frame: TraceFrame) -> TraceTransformer:
        """Learn each feature's min and max from ``frame``."""
        x = self._features(frame)
        self.data_min_, self.data_max_ = x.min(axis=0), x.max(axis=0)
        self._fit_clock(frame)
        return self

    def _fit_clock(self, frame: TraceFrame) -> None:
        """The frame's units with its origin (``training.units.with_origin``), and the time quantum:
        integer sources tick in whole units; fractional ones are kept to the microsecond."""
        self.units_ = with_origin(frame.meta.get("units"), frame.origin)
        self.time_quantum_ = 1.0 if np.issubdtype(frame.timestamp.dtype, np.integer) else 1e-6

    def _scale(self) -> np.ndarray:
        if self.data_min_ is None:
            raise ModelError("TraceTransformer is not fitted")
        span = self.data_max_ - self.data_min_
        return 2.0 / np.where(span == 0.0, 1.0, span)  # scikit-learn's _handle_zeros_in_scale

    def transform(self, frame: TraceFrame) -> np.ndarray:
        """``(n, 4)`` float32 features in [-1, 1] on the fitted range."""
        x = self._features(frame)
        return ((x - self.data_min_) * self._scale() - 1.0).astype(np.float32)

    def fit_transform(self, frame: TraceFrame) -> np.ndarray:
        return self.fit(frame).transform(frame)

    def inverse_features(self, y: np.ndarray) -> np.ndarray:
        """Scaled features -> real units, except that delta mode leaves inter-arrival times.

        Use ``finish`` to turn those into timestamps; it is split out because it carries state
        (the running time) across chunks, which an ONNX graph of one chunk cannot.
        """
        x = (np.asarray(y, np.float64) + 1.0) / self._scale() + self.data_min_
        x[:, self._log_mask] = np.expm1(np.maximum(x[:, self._log_mask], 0.0))
        return x

    def finish(self, x: np.ndarray, t_start: float = 0.0) -> tuple[np.ndarray, float]:
        """Delta and typed mode: cumulative sum of gaps from ``t_start``; returns rows and the new end time.

        Gaps are rounded to whole time quanta (ticks) first, so the running sum is exact integer
        arithmetic in float64: the timestamps of a chunk do not depend on how earlier rows were
        chunked or sharded.
        """
        if self.mode == "absolute" or len(x) == 0:
            return x, t_start
        x = x.copy()
        q = self.time_quantum_
        ticks = np.cumsum(np.rint(np.maximum(x[:, 0], 0.0) / q)) + round(t_start / q)
        x[:, 0] = ticks * q
        return x, float(x[-1, 0])

    def start_stream(self, t_start: float = 0.0, *, seed: int = 0, stream: int = 0) -> Stream:
        """The stateful decoding of one stream of ``inverse_features`` rows, chunk after chunk
        (``seed`` and ``stream`` draw the random numbers of its stateful steps, where it has any)."""
        return Stream(self, t_start)

    def inverse_transform(self, y: np.ndarray, t_start: float = 0.0) -> np.ndarray:
        """Scaled features -> ``(n, 4)`` float64 rows of timestamp, length, LBA, latency."""
        return self.start_stream(t_start)(self.inverse_features(y))

    def to_dict(self) -> dict[str, Any]:
        if self.data_min_ is None:
            raise ModelError("TraceTransformer is not fitted")
        return {"format_version": _FORMAT_VERSION, "mode": self.mode, "log1p": list(self.log1p),
                "features": list(self.feature_names), "time_quantum": self.time_quantum_,
                "data_min": self.data_min_.tolist(), "data_max": self.data_max_.tolist(),
                **({"units": self.units_} if self.units_ else {})}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TraceTransformer:
        if data.get("mode") == "typed":
            from training.encodings import TypedTransformer

            return TypedTransformer.from_dict(data)
        if data.get("format_version") != _FORMAT_VERSION:
            raise ModelError(f"transformer format_version {data.get('format_version')!r} is not {_FORMAT_VERSION}")
        obj = cls(mode=data["mode"], log1p=tuple(data["log1p"]))
        obj.data_min_ = np.array(data["data_min"], np.float64)
        obj.data_max_ = np.array(data["data_max"], np.float64)
        obj.time_quantum_ = float(data.get("time_quantum", 1.0))
        obj.units_ = data.get("units")
        return obj

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> TraceTransformer:
        return cls.from_dict(json.loads(Path(path).read_text()))


class Stream:
    """``stream(rows)`` finishes the next rows of one stream (``finish`` with the running time)."""

    def __init__(self, transformer: TraceTransformer, t_start: float = 0.0, levels=None) -> None:
        self.transformer, self.t = transformer, t_start
        self.levels = levels if levels else None  # training.levels.Levels, a typed model's slow levels

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        if self.levels is not None:
            rows = self.levels(rows[:, :len(ROW_COLUMNS)].copy())
        rows, self.t = self.transformer.finish(rows, self.t)
        return rows

    def warm_up(self, rows: np.ndarray) -> None:
        """Run ``rows`` through the stream's state (the LRU stack) and drop them; the clock stays."""
        t = self.t
        self(rows)
        self.t = t
