"""Scaled rows -> training windows, and the time-ordered train / validation split."""

from __future__ import annotations

import numpy as np

from training.errors import DataError

__all__ = ["time_split", "make_windows"]


def time_split(n_rows: int, val_fraction: float) -> int:
    """Index of the first validation row: the last ``val_fraction`` of rows, in time order."""
    return n_rows - int(round(n_rows * val_fraction))


def make_windows(x: np.ndarray, seq_len: int, stride: int, *, what: str = "trace") -> np.ndarray:
    """``(n, F)`` rows -> ``(m, seq_len, F)`` windows starting every ``stride`` rows.

    ``stride == seq_len`` gives the reference recipe's non-overlapping chunks: floor(n / seq_len) of them,
    the remainder dropped. A smaller stride gives overlapping windows (views, no copy until the
    caller makes the array contiguous).
    """
    n = len(x)
    if n < seq_len:
        raise DataError(f"{what} has {n} rows, fewer than one sequence of seq_len={seq_len}")
    if stride == seq_len:
        m = n // seq_len
        return x[: m * seq_len].reshape(m, seq_len, x.shape[1])
    windows = np.lib.stride_tricks.sliding_window_view(x, seq_len, axis=0)[::stride]
    return windows.transpose(0, 2, 1)
