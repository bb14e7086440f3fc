from __future__ import annotations

import numpy as np
import onnx
import pytest

from serving.onnx_export import PARITY_ATOL, OnnxSynthesizer, export_onnx
from training.config import TraceGANConfig
from training.synthesizer import Synthesizer, block_noise


@pytest.fixture(scope="module", params=[("seed", ()), ("delta", ("timestamp", "length", "latency"))], ids=["seed", "delta"])
def fitted(request, sample_frame):
    mode, log1p = request.param
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8, feature_mode=mode, log1p=log1p))
    s.fit(sample_frame)
    return s


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
    noise = block_noise(fitted.config, 3, 0)
    a, b = fitted.decode(noise), o.decode(noise)
    span = np.ptp(a, axis=0)
    assert np.max(np.abs(a - b) / span) < PARITY_ATOL
    rows_t, rows_o = fitted.sample(20_000, seed=5), o.sample(20_000, seed=5)
    assert np.max(np.abs(rows_t - rows_o) / np.ptp(rows_t, axis=0)) < PARITY_ATOL


def test_dynamic_batch(fitted):
    o = OnnxSynthesizer(export_onnx(fitted))
    for batch in (1, 3, 1024):
        noise = np.zeros((batch, fitted.config.seq_len, fitted.config.latent_dim), np.float32)
        assert o.decode(noise).shape == (batch * fitted.config.seq_len, 4)


def test_not_an_onnx_model(tmp_path):
    from training.errors import ModelError

    bad = tmp_path / "x.onnx"
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="not a readable ONNX model"):
        OnnxSynthesizer.from_file(bad)
