from __future__ import annotations

import numpy as np
import pytest

from training.errors import ModelError
from training.synthesizer import BLOCK_SEQUENCES, Synthesizer


@pytest.fixture(scope="module")
def fitted(sample_frame):
    from training.config import TraceGANConfig

    config = TraceGANConfig(num_epochs=1, batch_size=32, hidden_dim=16, latent_dim=4, seq_len=8, seed=7,
                            feature_mode="delta", log1p=("length", "latency"))
    s = Synthesizer(config)
    data = s.fit(sample_frame)
    return s, data


def test_fit_splits_in_time(fitted, sample_frame):
    s, data = fitted
    assert data.train_rows == 2400 and len(data.validation) == 600
    assert data.validation.timestamp[0] == sample_frame.timestamp[2400]
    assert s.meta["train_windows"] == 2400 // 8


def test_sample_any_length_deterministic_and_chunk_independent(fitted):
    s, _ = fitted
    rows_per_block = BLOCK_SEQUENCES * s.config.seq_len
    n = rows_per_block + 123
    a = s.sample(n, seed=5)
    assert a.shape == (n, 5)
    np.testing.assert_array_equal(a, s.sample(n, seed=5))
    np.testing.assert_array_equal(a[:77], s.sample(77, seed=5))
    assert not np.array_equal(a[:77], s.sample(77, seed=6))
    assert np.all(np.diff(a[:, 0]) >= 0)  # delta mode: monotonic timestamps across blocks
    assert len(s.sample(0)) == 0


def test_save_load_round_trip(fitted, tmp_path):
    s, _ = fitted
    s.save(tmp_path / "m")
    loaded = Synthesizer.load(tmp_path / "m")
    assert loaded.config == s.config
    np.testing.assert_array_equal(loaded.sample(500, seed=1), s.sample(500, seed=1))
    assert loaded.history == s.history


def test_load_rejects_non_model(tmp_path):
    with pytest.raises(ModelError, match="missing config.json"):
        Synthesizer.load(tmp_path)
    with pytest.raises(ModelError, match="not fitted"):
        Synthesizer().sample(3)


def test_seed_mode_stays_in_fitted_range(sample_frame):
    from training.config import TraceGANConfig

    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=8, latent_dim=4, seq_len=8, val_fraction=0.0,
                                   feature_mode="absolute", log1p=()))
    s.fit(sample_frame)
    rows = s.sample(1000)
    assert np.isnan(rows[:, 4]).all() and s.columns == ("timestamp", "length", "lba", "latency")
    rows = rows[:, :4]
    lo, hi = sample_frame.values().min(0), sample_frame.values().max(0)
    assert np.all(rows >= lo - 1e-6 * (hi - lo)) and np.all(rows <= hi + 1e-6 * (hi - lo))
