from __future__ import annotations

import hashlib

import numpy as np
import pytest

from serving.onnx_export import OnnxSynthesizer, export_onnx
from serving.synthesize import shard_plan, stream_plan, synthesize_to_file
from tests.rows import forced_levels
from training.config import TraceGANConfig
from training.readers import read_trace
from training.synthesizer import BLOCK_SEQUENCES, Synthesizer


@pytest.fixture(scope="module")
def delta_model(sample_frame):
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8, feature_mode="delta",
                                   log1p=("length", "latency"), carry_state=False))
    s.fit(sample_frame)
    return s


@pytest.fixture(scope="module")
def stream_model(sample_frame):
    """The default trace model: typed fields, LRU-stack addresses, LSTM state carried."""
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8))
    s.fit(sample_frame)
    assert s.config.carry_state and s.transformer.locality == "lru"
    return s


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_shard_plan_covers_all_rows():
    plan = shard_plan(100_000, 8, 5)
    assert sum(rows for _, _, rows in plan) == 100_000
    per_block = BLOCK_SEQUENCES * 8
    assert [first for first, _, _ in plan] == [0, 2, 5, 7, 10] and all(r % per_block == 0 for _, _, r in plan[:-1])
    assert len(shard_plan(10, 8, 4)) == 1  # never more shards than blocks
    assert stream_plan(10, 4) == [(0, 0, 3), (0, 1, 3), (0, 2, 2), (0, 3, 2)]


@pytest.fixture(scope="module")
def level_model(stream_model):
    """The default model with slow levels on its gaps and latency (training.levels)."""
    import copy

    s = copy.copy(stream_model)
    s.transformer = forced_levels(stream_model.transformer)
    return s


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("which", ["stream_model", "level_model"])
def test_streams_are_the_same_bytes_whatever_workers(which, tmp_path, fmt, request):
    stream_model = request.getfixturevalue(which)
    n = BLOCK_SEQUENCES * 8 + 700
    paths = {}
    for streams, workers in ((1, 1), (1, 2), (3, 1), (3, 2)):
        paths[streams, workers] = tmp_path / f"s{streams}w{workers}.{fmt}"
        stats = synthesize_to_file(stream_model, n, paths[streams, workers], fmt=fmt, seed=4, streams=streams,
                                   workers=workers)
        assert stats.shards == streams
    assert digest(paths[1, 1]) == digest(paths[1, 2]) and digest(paths[3, 1]) == digest(paths[3, 2])
    assert digest(paths[1, 1]) != digest(paths[3, 1])
    if fmt != "csv":
        return
    three = read_trace(paths[3, 1], fmt)
    assert len(three) == n and np.all(np.diff(three.timestamp) >= 0)  # streams follow each other in time
    first = stream_model.sample(stream_plan(n, 3)[0][2], seed=4, stream=0)  # stream 0 leads, as drawn alone
    np.testing.assert_allclose(three.lba[:len(first)], first[:, 2])


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_threads_ahead_give_the_rows_of_one_thread(stream_model, delta_model, engine):
    """Noise drawn in one thread and the network run in another (a carried stream), or blocks on
    a pool (windows): the very rows of drawing and running each block in turn."""
    for model in (stream_model, delta_model):
        model = OnnxSynthesizer(export_onnx(model), threads=1) if engine == "onnx" else model
        n = 3 * BLOCK_SEQUENCES * 8 + 123
        one = np.concatenate(list(model.sample_chunks(n, seed=9, threads=1)))
        skip = model.config.burn_in if model.config.carry_state else 0  # a stream's burn-in rows
        for threads in (2, 3):
            chunks = list(model.sample_chunks(n, seed=9, threads=threads))
            assert [len(c) for c in chunks] == [BLOCK_SEQUENCES * 8 - skip] + [BLOCK_SEQUENCES * 8] * 2 + [123 + skip]
            np.testing.assert_array_equal(np.concatenate(chunks), one)


def test_a_carried_stream_is_not_sharded_and_windows_are_not_streams(stream_model, delta_model, tmp_path):
    from training.errors import ConfigError

    with pytest.raises(ConfigError, match="use --streams, not --shards"):
        synthesize_to_file(stream_model, 100, tmp_path / "a.csv", fmt="csv", shards=2)
    with pytest.raises(ConfigError, match="use --shards, not --streams"):
        synthesize_to_file(delta_model, 100, tmp_path / "b.csv", fmt="csv", streams=2)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["csv", "parquet", "systor"])  # systor: a header, a unit, decimals
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
        synthesize_to_file(delta_model, 3 * BLOCK_SEQUENCES * 8, tmp_path / "x.txt", fmt="text4")
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite(delta_model, tmp_path):
    from training.errors import ConfigError

    out = tmp_path / "x.txt"
    out.write_text("keep")
    with pytest.raises(ConfigError, match="pass --overwrite"):
        synthesize_to_file(delta_model, 10, out, overwrite=False)
    assert out.read_text() == "keep"


def test_blas_runs_on_one_thread_while_writing_and_is_given_back(stream_model, tmp_path, monkeypatch):
    """OpenBLAS's extra threads spin on the cores the network and the writer need: synthesis
    limits NumPy's BLAS to one thread while it runs, and leaves the process as it found it."""
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas_threads():
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]

    seen, real_chunks = [], stream_model.sample_chunks

    def chunks(*args, **kw):
        for chunk in real_chunks(*args, **kw):
            seen.append(blas_threads())
            yield chunk

    monkeypatch.setattr(stream_model, "sample_chunks", chunks)
    with threadpool_limits(2, user_api="blas"):
        before = blas_threads()
        synthesize_to_file(stream_model, 3 * BLOCK_SEQUENCES * 8, tmp_path / "x.csv", fmt="csv")
        assert blas_threads() == before
    assert before and seen and all(threads == [1] * len(before) for threads in seen)
