"""Sticky categories (``sticky_heads``): the keep probability fitted per head, the kept noise in a
sampled stream and in training's fake streams, and what it does to a trained model's output."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from training.config import TraceGANConfig
from training.sample import make_sample_trace
from training.sticky import MAX_KEEP, fill_kept, keep_probability
from training.synthesizer import StreamNoise, Synthesizer, block_noise, sticky_groups


def _keep_process(q: float, p: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Categories that repeat the previous one with probability q, else are drawn from p."""
    rng = np.random.default_rng(seed)
    draws, keep = rng.choice(len(p), n, p=p), rng.random(n) < q
    out = draws.copy()
    for i in range(1, n):
        if keep[i]:
            out[i] = out[i - 1]
    return out


def test_keep_probability_recovers_the_process_and_is_zero_without_runs():
    p = np.array([0.6, 0.3, 0.1])
    for q in (0.3, 0.8):
        assert abs(keep_probability(_keep_process(q, p, 50_000), 3) - q) < 0.02
    assert keep_probability(np.random.default_rng(1).choice(3, 50_000, p=p), 3) < 0.01  # independent draws
    alternating = np.arange(1000) % 2  # repeats less than chance: no keeping
    assert keep_probability(alternating, 2) == 0.0
    assert keep_probability(np.zeros(100, np.int64), 2) == 0.0  # one category: nothing to keep
    assert keep_probability(np.repeat([0, 1], 50_000), 2) == MAX_KEEP  # one switch in 100,000 rows: capped


def test_fill_kept_carries_rows_and_the_previous_block():
    noise = np.arange(12, dtype=np.float32).reshape(6, 2)
    prev = np.array([-1.0, -2.0], np.float32)
    fill_kept(noise, np.array([True, False, True, True, False, True]), prev)
    np.testing.assert_array_equal(noise, [[-1, -2], [2, 3], [2, 3], [2, 3], [8, 9], [8, 9]])


def test_stream_noise_keeps_a_heads_inputs_across_blocks():
    """Each sticky head's inputs are a row's fresh noise or its predecessor's, all of them or none,
    with the head's probability, runs crossing the block boundary; other inputs are untouched and
    every input stays standard normal."""
    c = TraceGANConfig(latent_dim=4, seq_len=8, slow_noise=0)
    dim, sticky = 4 + 3 + 2, ((4, 3, 0.9), (7, 2, 0.5))
    draw = StreamNoise(c, 5, 0, dim, sticky)
    both = np.concatenate([draw(0)[0], draw(1)[0]])
    raw = np.concatenate([block_noise(c, 5, b, dim, stream=0).reshape(-1, dim) for b in (0, 1)])
    np.testing.assert_array_equal(both[:, :4], raw[:, :4])
    for a, w, q in sticky:
        x, fresh = both[:, a:a + w], raw[:, a:a + w]
        same = (x[1:] == x[:-1]).all(1)
        assert ((x[1:] == fresh[1:]).all(1) | same).all()  # fresh, or the row before, whole
        assert abs(same.mean() - q) < 0.02 and abs(x.std() - 1) < 0.05
    edge = len(both) // 2
    assert (both[edge - 50:edge + 50, 4:7] == both[edge - 51:edge + 49, 4:7]).all(1).mean() > 0.8  # across the edge
    np.testing.assert_array_equal(StreamNoise(c, 5, 0, dim, sticky)(0)[0], both[:edge])


def test_fake_streams_keep_head_noise_from_batch_to_batch():
    from training.trainer import GANTrainer

    config = TraceGANConfig(batch_size=64, hidden_dim=8, latent_dim=4, seq_len=6, join_windows=0, slow_noise=1)
    trainer = GANTrainer(config, 7, heads=(2, 3), sticky=((4, 2, 0.0), (6, 3, 0.95)))
    seen = []
    trainer.generator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    for _ in range(2):
        trainer.fake(64, "g")
    first, second = seen
    inside = (first[:, 1:, 6:9] == first[:, :-1, 6:9]).all(-1).float().mean()
    across = (second[:, 0, 6:9] == first[:, -1, 6:9]).all(-1).float().mean()
    assert inside > 0.9 and across > 0.85  # the sticky head: kept in a window and from one batch to the next
    assert (first[:, 1:, 4:6] == first[:, :-1, 4:6]).all(-1).float().mean() == 0  # q = 0: fresh every row


def test_a_trained_model_repeats_opcodes_as_the_trace_does(tmp_path):
    """The bundled sample's opcode repeats the previous request's 93% of the time (55% by chance):
    with sticky heads a small model's output does too, without them it does not, and the read
    fraction stays the trace's either way; the keep probabilities are saved with the model."""
    frame = make_sample_trace(6000, seed=1)
    real_repeat = float(np.mean(frame.opcode[1:] == frame.opcode[:-1]))
    config = TraceGANConfig(num_epochs=3, batch_size=64, hidden_dim=16, latent_dim=4, seq_len=8, seed=7,
                            val_fraction=0.0)
    repeat = {}
    for sticky in (True, False):
        synth = Synthesizer(replace(config, sticky_heads=sticky))
        synth.fit(frame)
        op = synth.sample(10_000, seed=3)[:, 4]
        repeat[sticky] = float(np.mean(op[1:] == op[:-1]))
        assert abs(float(np.mean(op == 0)) - float(np.mean(frame.opcode == 0))) < 0.1
        if sticky:
            keep = Synthesizer.load(synth.save(tmp_path / "m")).transformer.sticky_
            assert len(keep) == 3 and keep[1] > 0.8  # size, opcode, address action
    assert sticky_groups(synth.config, synth.transformer) == ()
    assert real_repeat > 0.9 and repeat[True] > 0.85 and repeat[False] < 0.75, (real_repeat, repeat)


def test_models_saved_before_draw_fresh_head_noise():
    """A transformer saved without keep probabilities reads zeros, a config without the key reads
    ``sticky_heads`` off: either way no head is sticky, and the stream's noise is as before."""
    from training.encodings import TypedTransformer

    t = TypedTransformer(locality="lru").fit(make_sample_trace(2000, seed=2))
    assert len(t.sticky_) == len(t.heads) and t.sticky_[1] > 0.5  # the sample's opcode runs
    saved = t.to_dict()
    del saved["sticky"]
    old = TypedTransformer.from_dict(saved)
    assert old.sticky_ == (0.0,) * len(t.heads) and sticky_groups(TraceGANConfig(), old) == ()
    config = TraceGANConfig.from_dict({k: v for k, v in TraceGANConfig().to_dict().items() if k != "sticky_heads"})
    assert config.sticky_heads is False and sticky_groups(config, t) == ()
    groups = sticky_groups(TraceGANConfig(), t)
    assert (16 + len(t.sizes_) + 1, 2, t.sticky_[1]) in groups  # the opcode head's inputs, after size's
    assert sticky_groups(replace(TraceGANConfig(), carry_state=False), t) == ()
