"""Typed fields: categorical sizes and opcodes, optional latency/opcode, continuous encodings,
softmax heads, WGAN-GP steps, best-epoch keeping, and models saved before typed fields."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from training.config import TraceGANConfig
from training.encodings import TypedTransformer
from training.readers import TraceFrame
from training.synthesizer import Synthesizer
from training.transform import TraceTransformer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _frame(n: int = 4000, *, latency: bool = True, opcode: bool = True, seed: int = 0) -> TraceFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.choice([4096, 8192, 65536, 512 * 3, 512 * 17], n, p=[0.6, 0.25, 0.145, 0.004, 0.001])
    ts = np.cumsum(rng.exponential(200.0, n)).astype(np.int64)
    lat = rng.lognormal(6, 1, n) if latency else np.zeros(n)
    op = rng.integers(0, 2, n) if opcode else None
    return TraceFrame.from_columns(ts, sizes, rng.integers(0, 10**7, n) * 8.0, lat, op)


@pytest.mark.parametrize("continuous", ["log", "quantile", "normal"])
def test_sizes_and_opcodes_round_trip_exactly(continuous):
    frame = _frame()
    t = TypedTransformer(continuous=continuous, size_coverage=0.99).fit(frame)
    assert set(t.sizes_) == {4096, 8192, 65536} and t.align_ == 512  # the rare 1536 and 8704 share "other"
    assert t.heads == (4, 2) and t.columns == ("timestamp", "length", "lba", "latency", "opcode")
    y = t.transform(frame)
    assert y.shape == (len(frame), len(t.feature_names)) and np.abs(y[:, :4]).max() <= 1 + 1e-6
    rows = t.inverse_features(y)
    common = np.isin(frame.length, t.sizes_)
    np.testing.assert_array_equal(rows[common, 1], frame.length[common])
    assert np.all(rows[:, 1] % 512 == 0)  # "other" decodes to the trace's alignment
    np.testing.assert_array_equal(rows[:, 4], frame.opcode)
    rel = np.abs(rows[:, 3] - frame.latency) / frame.latency
    if continuous == "log":
        assert rel.max() < 1e-5  # features are float32
    else:  # interpolation between 512 quantiles; normal clips the outer 0.05% at each end to the last knots
        assert np.mean(rel > 2e-2) <= (0.0 if continuous == "quantile" else 0.001)
    everything = TypedTransformer(continuous=continuous, size_coverage=1.0).fit(frame)
    np.testing.assert_array_equal(everything.inverse_features(everything.transform(frame))[:, 1], frame.length)


def test_saved_transformer_is_json_and_decodes_the_same():
    frame = _frame()
    t = TypedTransformer(continuous="quantile").fit(frame)
    again = TraceTransformer.from_dict(json.loads(json.dumps(t.to_dict())))
    assert isinstance(again, TypedTransformer) and again.feature_names == t.feature_names
    y = t.transform(frame)
    np.testing.assert_array_equal(again.inverse_features(y), t.inverse_features(y))


@pytest.mark.parametrize("latency,opcode", [(False, True), (True, False), (False, False)])
def test_a_trace_without_latency_or_opcode_has_no_such_column(latency, opcode):
    t = TypedTransformer().fit(_frame(latency=latency, opcode=opcode))
    assert ("latency" in t.columns) is latency and ("opcode" in t.columns) is opcode
    assert ("latency" in t.feature_names) is latency and ("op=read" in t.feature_names) is opcode
    rows = t.inverse_features(t.transform(_frame(latency=latency, opcode=opcode)))
    assert np.isnan(rows[:, 3]).all() is not latency and np.isnan(rows[:, 4]).all() is not opcode


def test_quantile_encoding_spreads_heavy_tails_and_puts_atoms_mid_range():
    from training.column_codecs import Continuous as _Continuous

    x = np.r_[np.zeros(500), np.random.default_rng(1).pareto(1.2, 1500)]
    enc = _Continuous.fit("quantile", x)
    y = enc.transform(x)
    assert y.min() >= -1 and y.max() <= 1
    assert abs(y[0] - (-1 + 0.25)) < 0.01  # the 25% of zeros sit in the middle of their rank range
    assert abs(np.median(y[500:]) - 0.25) < 0.05  # the rest spread uniformly over theirs


def test_softmax_heads_sample_categories_by_their_probabilities():
    from training.models import LSTMGenerator

    g = LSTMGenerator(2, 4, n_features=1 + 3 + 2, heads=(3, 2)).eval()
    g.requires_grad_(False)
    with torch.no_grad():
        g.fc.weight.zero_()
        g.fc.bias.copy_(torch.tensor([0.0, 0.0, np.log(3.0), np.log(6.0), 0.0, 0.0]))
    z = torch.from_numpy(np.random.default_rng(0).standard_normal((400, 50, g.noise_dim)).astype(np.float32))
    out = g(z).reshape(-1, 6)
    assert set(out[:, 1:].unique().tolist()) == {0.0, 1.0} and torch.all(out[:, 1:4].sum(1) == 1)
    freq = out[:, 1:4].mean(0).detach().numpy()
    np.testing.assert_allclose(freq, [0.1, 0.3, 0.6], atol=0.01)  # softmax of (0, ln 3, ln 6)
    g.train().requires_grad_(True)
    soft = g(z[:2])
    soft[:, :, 1:4].sum().backward()  # straight-through: the hard one-hot passes gradients
    assert g.fc.weight.grad is not None and g.fc.weight.grad[1:4].abs().sum() > 0


def test_wgan_gp_steps_train_both_networks_with_a_penalty():
    from training.trainer import GANTrainer

    config = TraceGANConfig(num_epochs=1, batch_size=16, hidden_dim=8, latent_dim=3, seq_len=6, loss="wgan-gp")
    trainer = GANTrainer(config, 4 + 3, heads=(3,))
    real = torch.rand(16, 6, 7) * 2 - 1
    fake = trainer.generator(trainer.noise(16)).detach()
    gp = trainer._gradient_penalty(real, fake)
    assert gp.item() > 0 and gp.requires_grad  # differentiable: it trains D
    d_before = [p.detach().clone() for p in trainer.discriminator.parameters()]
    g_before = [p.detach().clone() for p in trainer.generator.parameters()]
    d_loss = trainer.discriminator_step(real)
    state = trainer.rng.get_state()  # G's loss is -mean D(G(z)) on the noise its step draws
    with torch.no_grad():
        expected = -trainer.discriminator(trainer.generator(trainer._stream_noise(trainer.noise(16), None))).mean()
    trainer.rng.set_state(state)
    g_loss = trainer.generator_step(16)
    assert torch.isfinite(d_loss) and torch.allclose(g_loss, expected, atol=1e-6)
    changed = [not torch.equal(a, b) for a, b in zip(d_before, trainer.discriminator.parameters())]
    assert all(changed[:-1])  # the critic's output bias has no gradient: mean(fake) - mean(real) ignores it
    assert any(not torch.equal(a, b) for a, b in zip(g_before, trainer.generator.parameters()))


def test_keep_best_leaves_the_best_epochs_generator(sample_frame):
    config = TraceGANConfig(num_epochs=4, batch_size=64, hidden_dim=8, latent_dim=4, seq_len=8, seed=3,
                            calibrate=False)  # calibration would change the kept weights after (test_calibration)
    s = Synthesizer(config)
    scores, states = {1: 0.5, 2: 0.1, 3: 0.3, 4: float("nan")}, {}

    def on_epoch(stats):
        states[stats.epoch] = {k: v.clone() for k, v in s.generator.state_dict().items()}
        s.observe(stats.epoch, scores[stats.epoch])

    s.fit(sample_frame, on_epoch_end=on_epoch)
    assert s.meta["epoch"] == 2 and s.meta["best_val"] == 0.1 and s.history[-1]["epoch"] == 4
    for k, v in s.generator.state_dict().items():
        assert torch.equal(v, states[2][k])
    last = Synthesizer(replace(config, keep_best=False))
    last.fit(sample_frame, on_epoch_end=lambda stats: last.observe(stats.epoch, scores[stats.epoch]))
    assert last.meta["epoch"] == 4


def test_a_model_saved_before_typed_fields_loads_and_samples_the_same():
    from serving.onnx_export import OnnxSynthesizer
    from serving.writers import encode

    expected = json.loads((FIXTURES / "model_v1_sample.json").read_text())
    old = Synthesizer.load(FIXTURES / "model_v1")
    assert old.config.loss == "bce" and old.config.keep_best is False  # what it was trained with
    rows = old.sample(len(expected["rows"]), seed=expected["seed"])
    # to float32 rounding: torch picks its kernels by CPU, and CPUs differ in the last bits (tests/rows.py)
    np.testing.assert_allclose(rows[:, :4], np.array(expected["rows"]), rtol=1e-6)
    assert np.isnan(rows[:, 4]).all() and old.columns == ("timestamp", "length", "lba", "latency")
    assert encode(rows[:2], "csv", old.columns).count(b",") == 6  # four columns, as before
    onnx_rows = OnnxSynthesizer.from_file(FIXTURES / "model_v1.onnx").sample(len(rows), seed=expected["seed"])
    np.testing.assert_allclose(onnx_rows[:, 1:4], rows[:, 1:4], rtol=1e-5)


def test_ema_generator_is_what_is_sampled_and_resumes(tmp_path):
    from training.trainer import GANTrainer

    config = TraceGANConfig(num_epochs=2, batch_size=16, hidden_dim=8, latent_dim=3, seq_len=6, ema=0.9)
    data = torch.rand(64, 6, 4) * 2 - 1
    trainer = GANTrainer(config, 4)
    start = {k: v.clone() for k, v in trainer.generator.state_dict().items()}
    trainer.train_epoch(data)
    assert trainer.sampler is trainer.ema and not trainer.ema.training
    for k, v in trainer.ema.state_dict().items():  # between the start and the trained weights
        trained = trainer.generator.state_dict()[k]
        if not torch.equal(trained, start[k]):
            assert not torch.equal(v, trained) and not torch.equal(v, start[k])
    trainer.save_checkpoint(tmp_path / "c.pt")
    trainer.train_epoch(data)
    again = GANTrainer(config, 4)
    again.load_checkpoint(tmp_path / "c.pt")
    again.train_epoch(data)
    for a, b in zip(again.ema.state_dict().values(), trainer.ema.state_dict().values()):
        assert torch.equal(a, b)
