from __future__ import annotations

import hashlib

import numpy as np
import pytest

from serving.onnx_export import OnnxSynthesizer, export_onnx
from serving.synthesize import shard_plan, synthesize_to_file
from training.config import TraceGANConfig
from training.readers import read_trace
from training.synthesizer import BLOCK_SEQUENCES, Synthesizer


@pytest.fixture(scope="module")
def delta_model(sample_frame):
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8, feature_mode="delta",
                                   log1p=("length", "latency")))
    s.fit(sample_frame)
    return s


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shard_plan_covers_all_rows():
    plan = shard_plan(100_000, 8, 5)
    assert sum(rows for _, rows in plan) == 100_000
    per_block = BLOCK_SEQUENCES * 8
    assert [first for first, _ in plan] == [0, 2, 5, 7, 10] and all(r % per_block == 0 for _, r in plan[:-1])
    assert len(shard_plan(10, 8, 4)) == 1  # never more shards than blocks


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_same_bytes_whatever_shards_and_workers(delta_model, tmp_path, fmt):
    onnx_model = OnnxSynthesizer(export_onnx(delta_model))
    n = 3 * BLOCK_SEQUENCES * 8 + 500
    single = tmp_path / f"one.{fmt}"
    synthesize_to_file(onnx_model, n, single, fmt=fmt, seed=9)
    sharded = tmp_path / f"many.{fmt}"
    stats = synthesize_to_file(onnx_model, n, sharded, fmt=fmt, seed=9, shards=3, workers=2)
    assert stats.shards == 3 and digest(single) == digest(sharded)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([single.name, sharded.name])  # no parts left


def test_torch_stream_is_monotonic_and_complete(delta_model, tmp_path):
    out = tmp_path / "t.csv"
    synthesize_to_file(delta_model, 20_000, out, fmt="csv", seed=1)
    frame = read_trace(out, "csv")
    assert len(frame) == 20_000 and np.all(np.diff(frame.timestamp) >= 0)


def test_failure_mid_stream_leaves_no_file(delta_model, tmp_path, monkeypatch):
    calls = {"n": 0}
    real_decode = delta_model.decode

    def flaky(noise):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("model crashed on block 2")
        return real_decode(noise)

    monkeypatch.setattr(delta_model, "decode", flaky)
    with pytest.raises(RuntimeError, match="block 2"):
        synthesize_to_file(delta_model, 3 * BLOCK_SEQUENCES * 8, tmp_path / "x.txt", fmt="seed")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(delta_model, tmp_path):
    from training.errors import ConfigError

    out = tmp_path / "x.txt"
    out.write_text("keep")
    with pytest.raises(ConfigError, match="pass --overwrite"):
        synthesize_to_file(delta_model, 10, out, overwrite=False)
    assert out.read_text() == "keep"
