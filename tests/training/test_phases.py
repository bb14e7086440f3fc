"""Read/write phases (training.phases): the opcode head's noise given a slow share after training."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from training import phases
from training.config import TraceGANConfig
from training.phases import RHOS, TAUS, WIDTHS, decay, fit, mix_slow, spread_stats
from training.sample import make_sample_trace


def _phased(n: int, *, mean_phase: int, seed: int) -> np.ndarray:
    """Opcodes in phases (geometric, ``mean_phase`` rows on average) that are 95% reads or 90% writes."""
    rng = np.random.default_rng(seed)
    phase = np.cumsum(rng.random(n) < 1.0 / mean_phase) % 2
    return np.where(rng.random(n) < np.where(phase == 0, 0.95, 0.1), 0, 1).astype(np.int8)


def test_spread_stats_by_hand():
    half = np.r_[np.zeros(512, int), np.ones(512, int)]  # 1,024 rows: one switch; windows of 256 all 0 or all 1
    s = spread_stats(half[None], 2)
    assert s[0] == pytest.approx(1022 / 1023) and s[2] == pytest.approx(0.5) and np.isnan(s[3])  # one 1,024 window
    alternate = np.tile([0, 1], 2048)[None]  # every window half and half
    s = spread_stats(alternate, 2)
    assert s[0] == 0.0 and s[2] == 0.0 and s[3] == 0.0 and len(s) == 1 + len(WIDTHS)


def test_mix_slow_keeps_each_row_standard_normal_and_continues_across_blocks():
    rng = np.random.default_rng(0)
    z, e = rng.standard_normal((200_000, 1)), rng.standard_normal((200_000, 1))
    a = decay(1000)
    whole = z.copy()
    mix_slow(whole, np.zeros(1), e, 0.9, a)
    assert whole.std() == pytest.approx(1.0, abs=0.1) and abs(whole.mean()) < 0.1
    lag1 = np.corrcoef(whole[1:, 0], whole[:-1, 0])[0, 1]
    assert lag1 == pytest.approx(0.9 * a, abs=0.02)  # the slow share's correlation, the fresh part none
    first, second = z[:70_000].copy(), z[70_000:].copy()
    prev = mix_slow(first, np.zeros(1), e[:70_000], 0.9, a)
    mix_slow(second, prev, e[70_000:], 0.9, a)
    np.testing.assert_allclose(np.r_[first, second], whole, atol=1e-9)  # two blocks are one stream


def test_fit_finds_long_phases_and_none_where_there_are_none():
    logits = np.zeros((8, 8192, 2))  # a generator whose read probability is always 1/2
    target = spread_stats(_phased(80_000, mean_phase=3000, seed=1)[None], 2)
    got = fit(logits, target)
    assert got["rho"] >= 0.9 and got["tau"] in TAUS and set(got) == {"rho", "tau", "keep", "stats", "target"}
    assert np.all(np.abs(np.array(got["stats"]) - target) < 0.06), (got, target)
    fresh = spread_stats(np.random.default_rng(2).integers(0, 2, (1, 80_000)), 2)  # reads and writes at random
    got = fit(logits, fresh)
    assert got["rho"] == 0 and got["tau"] == 0 and got["keep"] == 0
    assert RHOS[0] == 0  # the generator's own draws are on the grid


@pytest.fixture(scope="module")
def phased_model():
    """A small model trained on the bundled sample with its opcodes replaced by long phases."""
    from training.synthesizer import Synthesizer

    frame = make_sample_trace(12_000, seed=3)
    frame.opcode[:] = _phased(len(frame), mean_phase=2000, seed=4)
    s = Synthesizer(TraceGANConfig(num_epochs=2, batch_size=64, hidden_dim=16, latent_dim=4, seq_len=8, seed=5,
                                   val_fraction=0.0, phases=True))
    s.fit(frame)
    return s, frame


def test_a_model_trained_on_phased_opcodes_samples_phases(phased_model, tmp_path):
    from training.synthesizer import Synthesizer, phase_groups

    s, frame = phased_model
    fitted = s.meta["phases"]
    assert fitted["rho"] > 0 and s.transformer.phases_ == {"op": {k: fitted[k] for k in ("rho", "tau", "keep")}}
    assert phase_groups(s.config, s.transformer)[0][2:] == (fitted["rho"], fitted["tau"], fitted["keep"])
    rows = s.sample(20_000, seed=3)
    plain = s.transformer
    s.transformer = plain.with_phases(None)
    try:
        bare = s.sample(20_000, seed=3)
    finally:
        s.transformer = plain
    np.testing.assert_array_equal(bare[:, :4], rows[:, :4])  # times, sizes, addresses, latency: as drawn
    real = spread_stats(frame.opcode[None].astype(int), 2)[2]
    spread = {name: spread_stats(x[:, 4].astype(int)[None], 2)[2] for name, x in (("phases", rows), ("bare", bare))}
    assert spread["bare"] < 0.5 * real and abs(spread["phases"] - real) < 0.1, (spread, real)
    loaded = Synthesizer.load(s.save(tmp_path / "m"))
    assert loaded.transformer.phases_ == s.transformer.phases_
    np.testing.assert_array_equal(loaded.sample(20_000, seed=3), rows)


def test_onnx_gives_the_opcodes_of_torch_with_phases(phased_model):
    from serving.onnx_export import OnnxSynthesizer, export_onnx

    s, _ = phased_model
    o = OnnxSynthesizer(export_onnx(s))
    assert o.transformer.phases_ == s.transformer.phases_
    a, b = s.sample(20_000, seed=5), o.sample(20_000, seed=5)
    np.testing.assert_array_equal(a[:, [1, 2, 4]], b[:, [1, 2, 4]])


def test_models_saved_before_have_no_phases(phased_model):
    from training.encodings import TypedTransformer
    from training.synthesizer import phase_groups

    s, _ = phased_model
    saved = s.transformer.to_dict()
    assert "phases" in saved
    del saved["phases"]
    old = TypedTransformer.from_dict(saved)
    assert old.phases_ is None and phase_groups(s.config, old) == ()
    config = TraceGANConfig.from_dict({k: v for k, v in s.config.to_dict().items() if k != "phases"})
    assert config.phases is False and phase_groups(config, s.transformer) == ()
    assert TraceGANConfig().phases is False  # a trade, so off by default (docs/QUALITY.md)
    assert phase_groups(replace(s.config, carry_state=False), s.transformer) == ()
    assert phases.KEEPS[0] == 0.0
