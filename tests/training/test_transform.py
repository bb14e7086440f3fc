from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.preprocessing import MinMaxScaler

from training.readers import TraceFrame
from training.transform import TraceTransformer


def test_seed_mode_equals_sklearn_minmax(sample_frame):
    t = TraceTransformer(mode="absolute").fit(sample_frame)
    ours = t.transform(sample_frame).astype(np.float64)
    ref = MinMaxScaler(feature_range=(-1, 1)).fit_transform(sample_frame.values())
    np.testing.assert_allclose(ours, ref, atol=1e-6)  # float32 output of float64 maths
    assert ours.min() == -1 and ours.max() == 1


def test_seed_mode_inverse_round_trip(sample_frame):
    t = TraceTransformer(mode="absolute").fit(sample_frame)
    back = t.inverse_transform(t.transform(sample_frame).astype(np.float64))
    x = sample_frame.values()
    assert np.max(np.abs(back - x) / np.ptp(x, axis=0)) < 1e-6  # float32 features: ~1e-7 of the span


def test_delta_mode_monotonic_and_round_trip(sample_frame):
    t = TraceTransformer(mode="delta", log1p=("length", "latency", "timestamp")).fit(sample_frame)
    x = t.transform(sample_frame)
    assert x.min() >= -1 - 1e-6 and x.max() <= 1 + 1e-6
    back = t.inverse_transform(x.astype(np.float64))
    assert np.all(np.diff(back[:, 0]) >= 0)
    x = sample_frame.values()
    # float32 features resolve ~1e-7 of a (log-)range: length/latency relative, LBA span-relative
    np.testing.assert_allclose(back[:, [1, 3]], x[:, [1, 3]], rtol=2e-5)
    assert np.max(np.abs(back[:, 2] - x[:, 2]) / np.ptp(x[:, 2])) < 1e-6
    # timestamps are a cumulative sum of float32-rounded gaps: relative error stays small
    np.testing.assert_allclose(back[-1, 0], sample_frame.timestamp[-1], rtol=1e-4)


def test_finish_carries_time_across_chunks(sample_frame):
    t = TraceTransformer(mode="delta").fit(sample_frame)
    feats = t.inverse_features(t.transform(sample_frame))
    whole, _ = t.finish(feats, 0.0)
    a, end = t.finish(feats[:100], 0.0)
    b, _ = t.finish(feats[100:], end)
    np.testing.assert_allclose(np.vstack([a, b]), whole)


def test_json_round_trip_and_constant_column(tmp_path):
    n = 50
    frame = TraceFrame.from_columns(np.arange(n) * 10, np.full(n, 4096.0), np.arange(n) * 8.0, np.linspace(1, 9, n))
    t = TraceTransformer(mode="delta").fit(frame)
    t.save(tmp_path / "s.json")
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["mode"] == "delta" and data["features"][0] == "interarrival"
    t2 = TraceTransformer.load(tmp_path / "s.json")
    np.testing.assert_array_equal(t.transform(frame), t2.transform(frame))
    assert np.all(t.transform(frame)[:, 1] == -1)  # constant length -> -1, as scikit-learn


def test_unfitted_and_bad_mode():
    from training.errors import ConfigError, ModelError

    with pytest.raises(ModelError):
        TraceTransformer().to_dict()
    with pytest.raises(ConfigError, match="mode must be one of absolute, delta"):
        TraceTransformer(mode="wavelet")
