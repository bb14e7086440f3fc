from __future__ import annotations

import numpy as np
import pytest

from training.errors import DataError
from training.sequences import make_windows, time_split


def test_seed_chunks_drop_remainder():
    x = np.arange(50 * 2, dtype=np.float32).reshape(50, 2)
    w = make_windows(x, 12, 12)
    assert w.shape == (4, 12, 2)
    np.testing.assert_array_equal(w[1, 0], x[12])


def test_overlapping_windows():
    x = np.arange(20, dtype=np.float32).reshape(20, 1)
    w = make_windows(x, 5, 2)
    assert w.shape == (8, 5, 1)
    np.testing.assert_array_equal(w[3, :, 0], [6, 7, 8, 9, 10])


def test_too_few_rows():
    with pytest.raises(DataError, match="has 3 rows, fewer than one sequence of seq_len=12"):
        make_windows(np.zeros((3, 4)), 12, 12)


def test_time_split():
    assert time_split(1000, 0.2) == 800
    assert time_split(1000, 0.0) == 1000
