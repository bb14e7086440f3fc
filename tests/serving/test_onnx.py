from __future__ import annotations

import numpy as np
import onnx
import pytest

from serving.onnx_export import PARITY_ATOL, OnnxSynthesizer, export_onnx
from training.config import TraceGANConfig
from training.synthesizer import Synthesizer, block_noise, noise_dim

WINDOWS = dict(carry_state=False, locality="none")  # independent windows, the LBA as a number
MODES = [dict(feature_mode="absolute", log1p=(), **WINDOWS),
         dict(feature_mode="delta", log1p=("timestamp", "length", "latency"), **WINDOWS),
         dict(feature_mode="typed", continuous="log", **WINDOWS), dict(feature_mode="typed", continuous="quantile", **WINDOWS),
         dict(feature_mode="typed", continuous="normal", **WINDOWS), dict(feature_mode="typed"),
         dict(feature_mode="typed", locality="lru-pages"), dict(feature_mode="delta", log1p=("timestamp", "length", "latency"))]


@pytest.fixture(scope="module", params=MODES, ids=["absolute", "delta", "typed-log", "typed-quantile", "typed-normal",
                                                   "typed-lru-carry", "typed-lru-pages-carry", "delta-carry"])
def fitted(request, sample_frame):
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8, **request.param))
    s.fit(sample_frame)
    return s


def _max_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Max |a - b| as a fraction of each column's span; NaN (a column the model lacks) must match."""
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    span = np.ptp(a, axis=0)
    return float(np.max(np.abs(a - b) / np.where(span > 0, span, 1.0)))


def test_export_is_checked_and_self_describing(fitted, tmp_path):
    model = export_onnx(fitted, tmp_path / "m.onnx")
    onnx.checker.check_model(model)
    meta = {p.key for p in model.metadata_props}
    assert meta == {"ganflow.config", "ganflow.transformer"}
    loaded = OnnxSynthesizer.from_file(tmp_path / "m.onnx")
    assert loaded.config == fitted.config
    assert loaded.transformer.to_dict() == fitted.transformer.to_dict()


def test_parity_with_torch_on_the_same_noise(fitted):
    o = OnnxSynthesizer(export_onnx(fitted))
    noise = block_noise(fitted.config, 3, 0, noise_dim(fitted.config, fitted.transformer))
    a, b = fitted.decode(noise), o.decode(noise)
    if fitted.config.carry_state:  # (rows, LSTM state): the state is a graph input and output too
        (a, state_t), (b, state_o) = a, b
        for st, so in zip(state_t, state_o):
            np.testing.assert_allclose(st.numpy(), so, atol=1e-5)
        a2, b2 = fitted.decode(noise, state_t)[0], o.decode(noise, state_o)[0]
        assert _max_rel_err(a2, b2) < PARITY_ATOL and not np.allclose(a2, a)  # the state changed the rows
    assert _max_rel_err(a, b) < PARITY_ATOL
    rows_t, rows_o = fitted.sample(20_000, seed=5), o.sample(20_000, seed=5)
    assert _max_rel_err(rows_t, rows_o) < PARITY_ATOL
    if fitted.config.feature_mode == "typed":  # the softmax heads are in the graph: the same categories
        np.testing.assert_array_equal(rows_t[:, [1, 4]], rows_o[:, [1, 4]])
    if fitted.transformer.locality != "none":  # the same actions through the same LRU stack: the same addresses
        np.testing.assert_array_equal(rows_t[:, 2], rows_o[:, 2])


def test_dynamic_batch(fitted):
    o = OnnxSynthesizer(export_onnx(fitted))
    width = {"absolute": 4, "delta": 4, "typed": 5 if fitted.transformer.locality == "none" else 6}[fitted.config.feature_mode]
    for batch in (1, 3, 1024):
        noise = np.zeros((batch, fitted.config.seq_len, noise_dim(fitted.config, fitted.transformer)), np.float32)
        rows = o.decode(noise)
        rows = rows[0] if fitted.config.carry_state else rows
        assert rows.shape == (batch * fitted.config.seq_len, width)


def test_not_an_onnx_model(tmp_path):
    from training.errors import ModelError

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        OnnxSynthesizer.from_file(bad)
