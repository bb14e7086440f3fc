"""Marginal calibration (training.calibration): exact maths on hand-made inputs, then a trained model
whose opcode head and gaps it corrects, saved, loaded and exported with it; models from before it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.rows import assert_same_rows
from training.calibration import fit_continuous, fit_head_bias
from training.synthesizer import Synthesizer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _softmax_mean(x):
    p = np.exp(x - x.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).mean(axis=0)


@pytest.mark.parametrize("scale", [1.0, 10.0])  # 10: saturated logits, as a collapsed head has
def test_head_bias_gives_the_target_frequencies(scale):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(5000, 4)) * scale + np.array([4.0, 0.0, -2.0, -4.0]) * scale
    target = np.array([0.1, 0.2, 0.3, 0.4])
    assert np.abs(_softmax_mean(logits) - target).max() > 0.3  # far off before
    b = fit_head_bias(logits, target)
    np.testing.assert_allclose(_softmax_mean(logits + b), target, atol=1e-4)
    # the ordering within a category is the generator's: rows most likely to be category 3 stay so
    p = np.exp(logits + b - (logits + b).max(axis=1, keepdims=True))
    assert np.corrcoef(p[:, 3] / p.sum(axis=1), logits[:, 3] - logits.max(axis=1))[0, 1] > 0.5


def test_head_bias_sampled_by_gumbel_max_hits_the_frequencies():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(40_000, 3)) + np.array([5.0, 0.0, 0.0])
    target = np.array([0.6, 0.3, 0.1])
    b = fit_head_bias(logits, target)
    gumbel = -np.log(-np.log(rng.random(logits.shape)))
    drawn = np.bincount(np.argmax(logits + b + gumbel, axis=1), minlength=3) / len(logits)
    np.testing.assert_allclose(drawn, target, atol=0.01)


def _calibrated(pre, real):
    import torch

    from training.models import calibrated

    lo, hi, cdf, q = fit_continuous(pre, real)
    f32 = lambda v: torch.tensor(np.asarray(v)[None], dtype=torch.float32)  # noqa: E731
    out = calibrated(torch.tensor(pre, dtype=torch.float32)[:, None], f32([lo])[0], f32([hi])[0], f32(cdf), f32(q))
    return out[:, 0].numpy().astype(np.float64), (lo, hi, cdf, q)


def test_continuous_map_keeps_ranks_and_gives_the_training_quantiles():
    rng = np.random.default_rng(2)
    pre = np.concatenate([rng.normal(0.5, 0.05, 45_000), np.full(5_000, 12.0)])  # narrow, and 10% saturated
    real = np.concatenate([rng.uniform(-1, 0.9, 45_000), rng.uniform(0.99, 1.0, 5_000)])  # 10% in a far tail
    out, _ = _calibrated(pre, real)
    order = np.argsort(pre, kind="stable")
    assert np.all(np.diff(out[order]) >= -1e-6)  # monotone: the generator's ranking survives
    for p in (0.05, 0.5, 0.85, 0.95):
        assert abs(np.quantile(out, p) - np.quantile(real, p)) < 0.02, p
    assert 0.99 <= out[-1] <= 1.0  # the saturated rows land in the far tail (the middle of their ranks)
    assert fit_continuous(np.full(100, 0.3), real) is None  # a constant column has no ranks to map


def test_calibration_tables_agree_with_a_numpy_interpolation():
    rng = np.random.default_rng(3)
    pre = rng.normal(0, 3, 10_000)
    out, (lo, hi, cdf, q) = _calibrated(pre, rng.normal(0, 0.3, 10_000))
    p = np.interp(pre, np.linspace(lo, hi, len(cdf)), cdf)
    expected = np.interp(p, np.linspace(0, 1, len(q)), q)
    np.testing.assert_allclose(out, expected, atol=2e-5)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """A tiny default (typed, LRU, carried) model trained 3 epochs on a trace with 30% reads, with
    fresh noise every row: with slow inputs (the default) a sample's marginals wander around the
    calibrated ones with its regimes (this model, 6,000 rows: gap KS 0.10-0.14 against 0.01), and
    what is tested here is the calibration, to sampling error."""
    from training.config import TraceGANConfig
    from training.sample import make_sample_trace

    frame = make_sample_trace(3000, seed=4)
    rng = np.random.default_rng(4)
    frame.opcode[:] = (rng.random(len(frame)) < 0.7).astype(frame.opcode.dtype)  # 30% reads
    config = TraceGANConfig(num_epochs=3, batch_size=32, hidden_dim=16, latent_dim=4, seq_len=8, seed=7,
                            calibrate=False, slow_noise=0)
    raw = Synthesizer(config)
    data = raw.fit(frame)
    rows_raw = raw.sample(6000, seed=5)
    synth = Synthesizer.load(raw.save(tmp_path_factory.mktemp("raw") / "m"))
    report = synth.calibrate(data)
    train = frame.slice(0, data.train_rows)
    return synth, report, train, rows_raw, data


def test_calibration_gives_a_trained_model_the_training_marginals(calibrated):
    from training.trace_stats import ks, size_tv

    synth, report, train, rows_raw, _ = calibrated
    rows = synth.sample(6000, seed=5)
    real_reads = float(np.mean(train.opcode == 0))
    assert abs(float(np.mean(rows[:, 4] == 0)) - real_reads) < 0.03
    assert report["columns"] == ["interarrival", "latency"]
    assert set(report["heads"]) == {"size", "op", "addr"}
    assert synth.meta["calibration"]["head_error_after"] < 1e-3
    gaps_real, gaps = np.diff(train.timestamp.astype(float)), np.diff(rows[:, 0])
    assert ks(gaps_real, gaps) < 0.1 and ks(train.latency, rows[:, 3]) < 0.1
    assert size_tv(train.length, rows[:, 1])[0] < 0.1
    # the uncalibrated generator was further off on what calibration targets
    assert ks(gaps_real, np.diff(rows_raw[:, 0])) > ks(gaps_real, gaps)
    assert ks(train.latency, rows_raw[:, 3]) > ks(train.latency, rows[:, 3])


def test_a_calibrated_model_saves_loads_and_exports_with_its_calibration(calibrated, tmp_path):
    from serving.onnx_export import OnnxSynthesizer, export_onnx

    synth = calibrated[0]
    rows = synth.sample(3000, seed=9)
    loaded = Synthesizer.load(synth.save(tmp_path / "m"))
    assert hasattr(loaded.generator, "cal_cdf")
    np.testing.assert_array_equal(loaded.sample(3000, seed=9), rows)
    onnx_rows = OnnxSynthesizer(export_onnx(synth, tmp_path / "m.onnx")).sample(3000, seed=9)
    np.testing.assert_array_equal(onnx_rows[:, [1, 2, 4]], rows[:, [1, 2, 4]])  # sizes, addresses, opcodes exactly
    gaps, onnx_gaps = np.diff(rows[:, 0]), np.diff(onnx_rows[:, 0])
    assert np.mean(np.isclose(onnx_gaps, gaps, rtol=1e-4, atol=2.0)) > 0.999
    np.testing.assert_allclose(onnx_rows[:, 3], rows[:, 3], rtol=1e-4)


def test_fit_calibrates_by_default_and_not_in_seed_recipe(tiny_config, sample_frame):
    from training.config import SEED_RECIPE

    s = Synthesizer(replace(tiny_config, num_epochs=1))
    s.fit(sample_frame)
    assert s.meta["calibration"]["columns"] == ["interarrival", "latency"]
    assert "cal_cdf" in s.generator.state_dict() and s.transformer.to_dict()["format_version"] == 4
    seed = Synthesizer(replace(tiny_config, num_epochs=1, **SEED_RECIPE))
    seed.fit(sample_frame)
    assert "calibration" not in seed.meta


def test_a_model_saved_before_calibration_loads_and_samples_the_same():
    """tests/fixtures/model_v3_lru*: written by the code before calibration (transformer format 3,
    LRU-stack addresses, carried state; config without ``calibrate``)."""
    from serving.onnx_export import OnnxSynthesizer

    expected = json.loads((FIXTURES / "model_v3_lru_sample.json").read_text())
    old = Synthesizer.load(FIXTURES / "model_v3_lru")
    assert old.config.calibrate is False and old.config.carry_state and old.transformer.locality == "lru"
    assert not hasattr(old.generator, "cal_cdf")
    rows = old.sample(len(expected["rows"]), seed=expected["seed"])
    assert_same_rows(rows, np.array(expected["rows"]))
    onnx_rows = OnnxSynthesizer.from_file(FIXTURES / "model_v3_lru.onnx").sample(len(rows), seed=expected["seed"])
    np.testing.assert_array_equal(onnx_rows[:, [1, 2, 4]], rows[:, [1, 2, 4]])


def test_calibrated_copy_leaves_the_original_as_trained(tiny_config, sample_frame):
    import torch

    s = Synthesizer(replace(tiny_config, num_epochs=1, calibrate=False))
    data = s.fit(sample_frame)
    before = {k: v.clone() for k, v in s.generator.state_dict().items()}
    rows = s.sample(500, seed=2)
    copy = s.calibrated_copy(data)
    assert hasattr(copy.generator, "cal_cdf") and "calibration" in copy.meta
    assert not hasattr(s.generator, "cal_cdf") and "calibration" not in s.meta
    assert all(torch.equal(v, before[k]) for k, v in s.generator.state_dict().items())
    np.testing.assert_array_equal(s.sample(500, seed=2), rows)
    assert not np.array_equal(copy.sample(500, seed=2), rows)


def test_calibrate_address_false_leaves_the_address_head_as_trained(tiny_config, sample_frame):
    """``calibrate_address=False``: sizes, opcode and the continuous columns are calibrated, the
    address head keeps the network's own logits (and so its mix of seq / new / reuse actions)."""
    s = Synthesizer(replace(tiny_config, num_epochs=1, calibrate=False, calibrate_address=False))
    data = s.fit(sample_frame)
    k = s.transformer.heads[-1]
    assert s.transformer.feature_names[-k] == "addr=seq"
    copy = s.calibrated_copy(data)
    before, after = s.generator.fc.bias.detach().numpy(), copy.generator.fc.bias.detach().numpy()
    np.testing.assert_array_equal(after[-k:], before[-k:])
    assert not np.array_equal(after[:-k], before[:-k])  # the size and opcode heads' biases moved
    assert set(copy.meta["calibration"]["heads"]) == {"size", "op"}
    assert copy.meta["calibration"]["columns"] == ["interarrival", "latency"]


def test_epochs_are_scored_as_saved_so_the_kept_epoch_is_the_saved_models(tiny_config, sample_frame, monkeypatch):
    """``epoch_model``: while fit runs, a calibrated copy of the live generator (the live one untouched);
    the epoch kept for the best score is the one whose calibrated copy scored it, and the model fit
    leaves samples exactly what that copy sampled. Without calibration, with ``select_calibrated``
    off (a config saved before it reads off), or outside fit, ``self``."""
    import torch

    from training.config import TraceGANConfig

    s = Synthesizer(replace(tiny_config, num_epochs=3))
    seen = {}

    def on_epoch(stats):
        live = {k: v.clone() for k, v in s.generator.state_dict().items()}
        view = s.epoch_model()
        assert view is not s and "calibration" in view.meta and "cal_cdf" in view.generator.state_dict()
        assert all(torch.equal(v, live[k]) for k, v in s.generator.state_dict().items())
        seen[stats.epoch] = view.sample(300, seed=5)
        s.observe(stats.epoch, [0.3, 0.1, 0.2][stats.epoch - 1])

    calls = []
    real_calibrate = Synthesizer.calibrate
    monkeypatch.setattr(Synthesizer, "calibrate", lambda self, *a, **k: calls.append(1) or real_calibrate(self, *a, **k))
    s.fit(sample_frame, on_epoch_end=on_epoch)
    assert s.meta["epoch"] == 2 and s.epoch_model() is s
    np.testing.assert_array_equal(s.sample(300, seed=5), seen[2])
    assert len(calls) == 3  # once an epoch: the kept copy is saved as it was scored, not calibrated again
    for name, change in (("uncalibrated", {"calibrate": False}), ("raw", {"select_calibrated": False})):
        plain = Synthesizer(replace(tiny_config, num_epochs=1, **change))
        plain.fit(sample_frame, on_epoch_end=lambda stats, p=plain, n=name: seen.update({n: p.epoch_model() is p}))
        assert seen[name] is True
    old = {k: v for k, v in s.config.to_dict().items() if k != "select_calibrated"}
    assert TraceGANConfig.from_dict(old).select_calibrated is False


def test_size_given_the_address_action_is_calibrated_to_the_training_rows(tiny_config):
    """A trace whose reuses are all 4 KiB and whose new addresses are all 64 KiB: calibrated per
    action class (``calibrate_by_action``, the default: an address-first model's size biases are
    fitted per class of the drawn action: sequential, new, reuse), the model's sizes follow
    its address actions as the training rows' do; fitted to the mix alone, every action gets about the
    trace's overall 4 KiB share."""
    from training import locality
    from training.sample import make_sample_trace

    frame = make_sample_trace(4000, seed=3)
    rng = np.random.default_rng(3)
    hot = rng.random(len(frame)) < 0.4  # 40% of requests re-read one of 60 hot pages, 4 KiB each
    frame.lba[:] = np.where(hot, 8.0 * rng.integers(0, 60, len(frame)), 8.0 * (10_000 + 32 * np.arange(len(frame))))
    frame.length[:] = np.where(hot, 4096.0, 65536.0)
    s = Synthesizer(replace(tiny_config, num_epochs=2, calibrate=False))
    data = s.fit(frame)
    shares = {}
    for by_action, address in ((True, True), (False, True), (True, False), (False, False)):
        s.config = replace(s.config, calibrate=True, calibrate_by_action=by_action, calibrate_address=address)
        rows = s.calibrated_copy(data, announce=False).sample(6000, seed=11)
        action = locality.encode(rows[:, 2].astype(np.int64), rows[:, 1], int(rows[0, 2]), spans=False)[0]
        small = rows[:, 1] == 4096
        assert 0.25 < small.mean() < 0.55  # the mix: about the trace's 40% either way
        shares[by_action, address] = small[action == locality.REUSE].mean(), small[action == locality.NEW].mean()
    assert shares[True, True][0] > 0.9 and shares[True, True][1] < 0.1
    for address in (True, False):
        assert shares[False, address][0] < 0.75 and shares[False, address][1] > 0.2
    # the action mix left as G drew it (--calibrate_address false): the classes still split, less
    # sharply, since the one bias on top that keeps the size mix exact pulls every class toward it
    assert shares[True, False][0] > shares[False, False][0] + 0.2 and shares[True, False][1] < 0.1
