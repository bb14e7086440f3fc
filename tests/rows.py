"""Comparing sampled rows with rows a fixture stored on another machine."""

import numpy as np

DISCRETE = [1, 2, 4]  # length, LBA, opcode of ROW_COLUMNS: categories and decoded addresses


def assert_same_rows(rows: np.ndarray, expected: np.ndarray) -> None:
    """Sizes, addresses and opcodes exactly; times and latencies to float32 rounding (torch picks
    its kernels by CPU: the machine that wrote the fixtures and an AMD EPYC differ in the last bits)."""
    np.testing.assert_array_equal(rows[:, DISCRETE], expected[:, DISCRETE])
    np.testing.assert_allclose(rows, expected, rtol=1e-6)
