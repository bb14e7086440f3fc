from __future__ import annotations

import numpy as np
import pytest

from training.errors import ConfigError
from training.mmd import MULTI_BANDWIDTHS, mmd2_naive, mmd2_rff, mmd2_unbiased, resolve_bandwidths


def pair(n=300, m=240, d=4, shift=0.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, d)), rng.random((m, d)) * 0.9 + 0.05 + shift


@pytest.mark.parametrize("sigma", [0.1, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("method", ["auto", "direct"])
def test_equals_naive_float64(sigma, method):
    x, y = pair()
    assert abs(mmd2_unbiased(x, y, sigma, method=method) - mmd2_naive(x, y, sigma)) < 1e-9


@pytest.mark.parametrize("sigma", [1.0, 2.0, 5.0])
def test_expansion_is_exact_where_it_applies(sigma):
    x, y = pair(d=5)
    assert abs(mmd2_unbiased(x, y, sigma, method="expansion") - mmd2_naive(x, y, sigma)) < 1e-12


def test_expansion_refuses_narrow_bandwidths_and_auto_falls_back():
    x, y = pair()
    with pytest.raises(ConfigError, match="too narrow"):
        mmd2_unbiased(x, y, 0.1, method="expansion")
    assert mmd2_unbiased(x, y, 0.1) == pytest.approx(mmd2_naive(x, y, 0.1), abs=1e-9)


def test_blocked_equals_unblocked():
    x, y = pair(n=700, m=513)
    one_block = mmd2_unbiased(x, y, 0.5, method="direct", block=4096)
    for block in (37, 64, 100, 512):
        assert mmd2_unbiased(x, y, 0.5, method="direct", block=block) == pytest.approx(one_block, abs=1e-12)


def test_multi_bandwidth_is_the_mean():
    x, y = pair()
    expected = np.mean([mmd2_naive(x, y, s) for s in MULTI_BANDWIDTHS])
    assert mmd2_unbiased(x, y, MULTI_BANDWIDTHS) == pytest.approx(expected, abs=1e-9)


def test_near_zero_for_halves_of_one_stationary_sample():
    rng = np.random.default_rng(3)
    z = rng.normal(size=(8000, 4)) * 0.2 + 0.5
    value = mmd2_unbiased(z[:4000], z[4000:], 1.0)
    # under the null the unbiased estimate is centred on 0 with sd ~ 1/n; 2e-4 is > 5 sd here
    assert abs(value) < 2e-4


def test_grows_monotonically_with_a_shift():
    rng = np.random.default_rng(4)
    x, y = rng.random((1500, 4)), rng.random((1500, 4))
    values = [mmd2_unbiased(x, y + s, 1.0) for s in (0.0, 0.05, 0.1, 0.2, 0.4, 0.8)]
    assert all(a < b for a, b in zip(values, values[1:]))


def test_rff_estimate_is_close():
    x, y = pair(n=3000, m=3000, shift=0.2)
    exact = mmd2_unbiased(x, y, 1.0)
    assert mmd2_rff(x, y, 1.0, n_features=8192) == pytest.approx(exact, rel=0.1)


def test_bandwidth_specs():
    x, y = pair()
    assert resolve_bandwidths("1.0", x, y) == (1.0,)
    assert resolve_bandwidths("0.5,2", x, y) == (0.5, 2.0)
    assert resolve_bandwidths("multi", x, y) == MULTI_BANDWIDTHS
    (med,) = resolve_bandwidths("median", x, y)
    assert 0.3 < med < 1.5
    with pytest.raises(ConfigError, match="but got 'wide'"):
        resolve_bandwidths("wide", x, y)
    with pytest.raises(ConfigError, match="at least 2 rows"):
        mmd2_unbiased(x[:1], y, 1.0)


def test_far_out_synthetic_rows_fall_back_to_direct():
    x, y = pair()
    y = y * 1e6  # a diverged generator: values far outside the real range
    assert mmd2_unbiased(x, y, 1.0) == pytest.approx(mmd2_naive(x, y, 1.0), abs=1e-9)
