"""Comparing sampled rows with rows a fixture stored on another machine; a model's slow levels set by hand."""

import numpy as np

DISCRETE = [1, 2, 4]  # length, LBA, opcode of ROW_COLUMNS: categories and decoded addresses


def assert_same_rows(rows: np.ndarray, expected: np.ndarray) -> None:
    """Sizes, addresses and opcodes exactly; times and latencies to float32 rounding (torch picks
    its kernels by CPU: the machine that wrote the fixtures and an AMD EPYC differ in the last bits)."""
    np.testing.assert_array_equal(rows[:, DISCRETE], expected[:, DISCRETE])
    np.testing.assert_allclose(rows, expected, rtol=1e-6)


def forced_levels(transformer, weights: tuple[float, ...] = (0.3, 0.6), taus: tuple[int, ...] = (64, 512)):
    """``transformer`` with levels (training.levels) of ``weights`` over ``taus`` rows on its gaps and
    latency, knots from its encoders: a model fitted for a test may fit none."""
    knots = lambda name: transformer.encoders[name].inverse(np.linspace(-1, 1, 513)).tolist()  # noqa: E731
    return transformer.with_levels({name: {"weights": list(weights), "taus": list(taus), "knots": knots(name)}
                                    for name in ("interarrival", "latency")})
