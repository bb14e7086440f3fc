"""Slow levels (training.levels): the copula factor a stream applies to gaps and latency."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from tests.rows import forced_levels
from training.levels import (
    LAGS,
    MAX_SHARE,
    SCALES,
    WEIGHTS,
    Levels,
    ar1,
    fit,
    fit_level,
    ndtri,
    normal_scores,
    phi,
    trace_rows,
    window_stats,
)


def test_ndtri_and_phi_against_the_standard_library():
    p = np.array([1e-10, 1e-6, 0.001, 0.02, 0.02425, 0.3, 0.5, 0.77, 0.975, 0.999999])
    exact = np.array([NormalDist().inv_cdf(v) for v in p])
    np.testing.assert_allclose(ndtri(p), exact, rtol=2e-9, atol=1e-12)
    x = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(phi(x), [NormalDist().cdf(v) for v in x], atol=2e-7)


def test_normal_scores_give_ties_the_middle_of_their_ranks():
    z = normal_scores(np.array([5.0, 1.0, 5.0, 3.0]))  # ranks 3.5, 1, 3.5, 2 of 4
    np.testing.assert_allclose(z, ndtri((np.array([3.5, 1.0, 3.5, 2.0]) - 0.5) / 4))
    assert z[0] == z[2] and z[1] < z[3] < z[0]


def test_window_stats_by_hand():
    # two streams of 3 windows of 2 rows: means (0, 2, 4) and (1, 3, 5), deviations +-1 within each window
    z = np.array([[-1, 1, 1, 3, 3, 5], [0, 2, 2, 4, 4, 6]], float)
    stats = window_stats(z, 2)
    total = z.var()
    assert stats[0] == pytest.approx(1.0 / total)  # every row 1 from its window's mean
    assert len(stats) == 2 + len(LAGS) and np.all(np.isnan(stats[1:]))  # too short for blocks and lag 1
    long = np.repeat(np.arange(40.0), 3)[None]  # each window constant, means rising: correlation 1 at every lag
    stats = window_stats(long, 3)
    assert stats[0] == 0.0 and stats[2] == pytest.approx(1.0) and stats[3] == pytest.approx(1.0)
    steps = np.repeat(np.r_[np.zeros(8), np.ones(8)], 1024)[None]  # 16 blocks of 1,024 rows, each constant
    assert window_stats(steps, 4)[1] == pytest.approx(1.0)  # all the variance between blocks
    assert window_stats(np.random.default_rng(0).standard_normal((4, 16384)), 4)[1] < 0.01


def test_trace_rows_undo_overlapping_windows():
    rows = np.arange(20.0)[:, None]
    windows = np.lib.stride_tricks.sliding_window_view(rows, 6, axis=0)[::2].transpose(0, 2, 1)
    np.testing.assert_array_equal(trace_rows(windows, 2)[:, 0], np.arange(16.0))


def _levelled(n_streams: int, n: int, rho: float, tau: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = 1.0 - 1.0 / tau
    s = np.stack([ar1(rng.standard_normal(n), rng.standard_normal(), a) for _ in range(n_streams)])
    return rho * s + math.sqrt(1 - rho * rho) * rng.standard_normal((n_streams, n))


def test_fit_level_finds_a_level_where_the_training_rows_have_one_and_none_where_they_do_not():
    target = window_stats(_levelled(1, 60_000, 0.6, 512, seed=1), 12)
    assert target[3] > 0.4  # window means 8 windows apart still correlated
    weights, after = fit_level(np.random.default_rng(2).standard_normal((8, 8192)), target, 12)
    assert len(weights) == len(SCALES) and 0.45 <= weights[1] <= 0.75 and weights[0] <= 0.3
    assert np.abs(after - target)[[0, 2, 3]].max() < 0.1  # within a window, 1 and 8 windows apart (the far lags: noisy)
    weights, after = fit_level(np.random.default_rng(3).standard_normal((8, 8192)),
                               window_stats(np.random.default_rng(4).standard_normal((1, 60_000)), 12), 12)
    assert weights == (0.0,) * len(SCALES)  # independent rows want no level


def test_fit_returns_each_column_with_knots_in_its_units():
    names = ("interarrival", "length", "latency")
    train = np.column_stack([_levelled(1, 30_000, 0.7, 400, seed=5)[0], np.zeros(30_000),
                             np.random.default_rng(6).standard_normal(30_000)])
    pre = np.random.default_rng(7).standard_normal((8, 4096, 3))
    out = fit(pre, train, names, lambda name, y: np.exp(y), 12)
    assert set(out) == {"interarrival", "latency"}
    assert max(out["interarrival"]["weights"]) > 0.4 and out["latency"]["weights"] == [0.0] * len(SCALES)
    assert out["interarrival"]["taus"] == list(SCALES)
    knots = np.asarray(out["interarrival"]["knots"])
    np.testing.assert_allclose(knots, np.exp(np.quantile(train[:, 0], np.linspace(0, 1, len(knots)))))
    assert out["interarrival"]["stats"]["with_levels"][3] > 0.3 > out["interarrival"]["stats"]["generator"][3]


def _params(rho: float, tau: float) -> dict:
    knots = np.quantile(np.random.default_rng(8).lognormal(8, 2, 100_000), np.linspace(0, 1, 513))
    return {"interarrival": {"weights": [0.0, rho], "taus": [64, tau], "knots": knots.tolist()}}


def _gaps(params: dict, n: int, seed: int) -> np.ndarray:
    knots = np.asarray(params["interarrival"]["knots"])
    rows = np.zeros((n, 5))
    rows[:, 0] = np.interp(np.random.default_rng(seed).random(n), np.linspace(0, 1, len(knots)), knots)
    return rows


def test_levels_keep_the_marginal():
    params = _params(0.8, 50)  # a level that moves fast enough for 200k rows to show the marginal
    rows = _gaps(params, 200_000, seed=9)
    out = Levels(params, seed=1, stream=0)(rows.copy())
    q = [0.01, 0.1, 0.5, 0.9, 0.99]
    np.testing.assert_allclose(np.log(np.quantile(out[:, 0], q)), np.log(np.quantile(rows[:, 0], q)), atol=0.1)
    np.testing.assert_array_equal(out[:, 1:], rows[:, 1:])  # only the fitted column changes
    assert np.corrcoef(np.log(out[:, 0]), np.log(rows[:, 0]))[0, 1] > 0.4  # the row keeps much of its own rank


def test_levels_hold_a_level_hundreds_of_rows():
    params = _params(0.8, 1600)
    rows = _gaps(params, 120_000, seed=9)
    out = Levels(params, seed=1, stream=0)(rows.copy())
    lag = 32  # windows of 12 rows: 384 rows apart

    def lagged(x):
        means = np.log(x).reshape(-1, 12).mean(1)
        return np.corrcoef(means[:-lag], means[lag:])[0, 1]

    assert lagged(out[:, 0]) > 0.3 and abs(lagged(rows[:, 0])) < 0.05


def test_levels_do_not_depend_on_how_a_stream_is_cut():
    params = _params(0.6, 400)
    rows = np.random.default_rng(10).random((10_000, 5)) * 1000
    whole = Levels(params, seed=3, stream=2)(rows.copy())
    cut = Levels(params, seed=3, stream=2)
    parts = np.concatenate([cut(rows[:1234].copy()), cut(rows[1234:1240].copy()), cut(rows[1240:].copy())])
    np.testing.assert_array_equal(parts, whole)
    other = Levels(params, seed=3, stream=3)(rows.copy())
    assert not np.array_equal(other, whole)  # each stream its own level


def test_levels_with_no_weight_do_nothing():
    assert not Levels(_params(0.0, 400), seed=0, stream=0)


@pytest.fixture(scope="module")
def level_model(sample_frame):
    """A typed carried-state model fitted with ``levels``, its levels then set by hand (one epoch on
    3,000 rows may fit none)."""
    from training.config import TraceGANConfig
    from training.synthesizer import Synthesizer

    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8, levels=True))
    s.fit(sample_frame)
    return s


def test_fit_records_the_levels_and_the_saved_model_applies_them(level_model, tmp_path):
    from training.synthesizer import Synthesizer

    s = level_model
    fitted = s.meta["levels"]
    assert set(fitted) == {"interarrival", "latency"}
    for v in fitted.values():
        assert set(v["weights"]) <= set(WEIGHTS) and v["taus"] == list(SCALES) and len(v["training"]) == 2 + len(LAGS)
        assert sum(w * w for w in v["weights"]) <= MAX_SHARE + 1e-9
    assert s.transformer.levels_.keys() == fitted.keys()
    s.transformer = forced_levels(s.transformer)
    plain = s.transformer.with_levels(None)
    rows = s.sample(5000, seed=3)
    s.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.sample(5000, seed=3), rows)
    s.transformer, levelled = plain, s.transformer
    try:
        bare = s.sample(5000, seed=3)
    finally:
        s.transformer = levelled
    np.testing.assert_array_equal(bare[:, [1, 2, 4]], rows[:, [1, 2, 4]])  # sizes, addresses, opcodes as drawn
    assert not np.array_equal(bare[:, 0], rows[:, 0]) and not np.array_equal(bare[:, 3], rows[:, 3])


def test_onnx_gives_the_rows_of_torch_with_levels(level_model):
    from serving.onnx_export import OnnxSynthesizer, export_onnx

    s = level_model
    s.transformer = forced_levels(s.transformer)
    o = OnnxSynthesizer(export_onnx(s))
    assert o.transformer.levels_ == s.transformer.levels_
    a, b = s.sample(20_000, seed=5), o.sample(20_000, seed=5)
    np.testing.assert_array_equal(a[:, [1, 2, 4]], b[:, [1, 2, 4]])
    np.testing.assert_allclose(a[:, 3], b[:, 3], rtol=1e-3)
    assert np.abs(a[:, 0] - b[:, 0]).max() <= 1e-3 * np.ptp(a[:, 0])
