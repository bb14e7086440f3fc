"""Explicit locality: the LRU-stack encoder and decoder, the typed transformer's address head,
carried LSTM state and models saved before either existed."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.rows import assert_same_rows
from training.config import TraceGANConfig, slow_decay
from training.locality import NEW, REUSE, SEQ, Stack, encode
from training.readers import TraceFrame
from training.synthesizer import BLOCK_SEQUENCES, StreamNoise, Synthesizer, block_noise, noise_dim

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _brute_force(lba, length, start, spans):
    """The definition, slowly: a Python list as the LRU stack of every page the requests span
    (``spans``) or of their first pages."""
    stack, prev_end, out = [], start, []
    for t, (a, n) in enumerate(zip(lba, length)):
        page = a // 8
        if t > 0 and a == prev_end:
            out.append((SEQ, -1))
        elif page in stack:
            out.append((REUSE, len(stack) - 1 - stack.index(page)))
        else:
            out.append((NEW, -1))
        for p in range(page, (a * 512 + n - 1) // 4096 + 1 if spans else page + 1):
            if p in stack:
                stack.remove(p)
            stack.append(p)
        prev_end = a + -(-n // 512)
    return out


def test_a_hand_built_action_sequence_decodes_to_exact_addresses():
    stack = Stack(start=800, lo=0, hi=10_000, align=8)
    action = np.array([NEW, SEQ, NEW, REUSE, REUSE, NEW, REUSE, SEQ], np.int8)
    stride = np.array([0, 0, 1000, 0, 0, -72, 0, 0])
    dist = np.array([0, 0, 0, 2, 0, 0, 1, 0])
    length = np.full(8, 4096)
    lba = stack.decode(action, stride, dist, length)
    # 800; continues at 808; 808+8+1000=1816; the page 2 back is 800's; distance 0 is the previous
    # request's (800 again); 808 - 72 = 736; distance 1 skips 736's page and finds 800; then 808.
    np.testing.assert_array_equal(lba, [800, 808, 1816, 800, 800, 736, 800, 808])
    assert stack.state[2] == 4  # live pages: 100, 101, 227, 92
    a, _, d = encode(lba.astype(np.int64), length, 800)
    assert a.tolist() == action.tolist() and d.tolist()[3:] == [2, 0, -1, 1, -1]  # and back


def test_new_addresses_wrap_into_the_range_and_keep_the_alignment():
    stack = Stack(start=0, lo=1000, hi=2000, align=8)
    lba = stack.decode(np.array([NEW, NEW, SEQ], np.int8), np.array([2500, -3000, 0]), np.zeros(3), np.full(3, 65536))
    assert all(1000 <= v < 2000 and (v - 1000) % 8 == 0 for v in lba), lba


def test_a_jump_lands_at_its_destination_aligned_and_in_range():
    """JUMP (decoding only): the stride column holds the address itself; aligned, wrapped like NEW."""
    from training.locality import JUMP

    stack = Stack(start=800, lo=0, hi=10_000, align=8)
    lba = stack.decode(np.array([NEW, JUMP, SEQ, JUMP, JUMP, REUSE], np.int8), np.array([0, 5004, 0, 12_345, 96, 0]),
                       np.array([0, 0, 0, 0, 0, 1]), np.full(6, 4096))
    # 800; jump to 5004 -> 5000 (aligned); continues at 5008; 12,344 wraps to 2,344; 96; distance 1: 2,344's page
    np.testing.assert_array_equal(lba, [800, 5000, 5008, 2344, 96, 2344])


@pytest.mark.parametrize("beyond", [False, True])
def test_a_reuse_deeper_than_the_stack(beyond):
    """A stream starts with an empty stack, a real trace's window does not: a reuse deeper than the
    pages seen so far is of the deepest page, or (``beyond``, format-4 models) of a page from before
    the stream began, at the address its stride column holds; a reuse within the stack is unchanged."""
    stack = Stack(start=800, lo=0, hi=10_000, align=8)
    action = np.array([NEW, NEW, REUSE, REUSE, REUSE], np.int8)
    stride = np.array([0, 1000, 4003, 6000, 7000])
    lba = stack.decode(action, stride, np.array([0, 0, 7, 1, 3]), np.full(5, 4096), beyond=beyond)
    # 800; 808+1000=1808; distance 7 of 2 pages: 4000 (aligned) or the deepest, 800; distance 1:
    # 1808 (with 4000 on top) or 1808 (with 800 on top); distance 3 of 3 pages: 7000, or the deepest
    expect = [800, 1808, 4000, 1808, 7000] if beyond else [800, 1808, 800, 1808, 800]
    np.testing.assert_array_equal(lba, expect)


def _trace(n, rng, offsets=(0,)):
    pages = rng.zipf(1.3, n) % 700 + rng.integers(0, 3, n) * 1000
    lba = np.where(rng.random(n) < 0.2, 0, pages * 8 + rng.choice(offsets, n))
    length = rng.choice([4096, 8192, 65536], n)
    for t in range(1, n):  # sequential runs: some requests start where the previous one ended
        if lba[t] == 0:
            lba[t] = lba[t - 1] + length[t - 1] // 512
    return lba, length


@pytest.mark.parametrize("spans", [True, False], ids=["every-page", "first-pages"])
def test_encoding_matches_the_definition(spans):
    lba, length = _trace(4000, np.random.default_rng(0), offsets=(0, 0, 0, 3))  # some start inside a page
    action, _, dist = encode(lba, length, int(lba[0]), spans=spans)
    expect = _brute_force(lba.tolist(), length.tolist(), int(lba[0]), spans)
    assert [(int(a), int(d)) for a, d in zip(action, dist)] == expect
    assert {SEQ, NEW, REUSE} <= set(action.tolist())


@pytest.mark.parametrize("spans", [True, False], ids=["every-page", "first-pages"])
def test_page_aligned_addresses_decode_back_exactly_through_compaction(spans):
    n = 6000
    lba, length = _trace(n, np.random.default_rng(1))
    action, stride, dist = encode(lba, length, int(lba[0]), spans=spans)
    stack = Stack(int(lba[0]), 0, int(lba.max()) + 256, 8, spans=spans, capacity=2048)  # compacts many times
    out = np.concatenate([stack.decode(action[i:i + 777], stride[i:i + 777], dist[i:i + 777], length[i:i + 777])
                          for i in range(0, n, 777)])
    np.testing.assert_array_equal(out, lba)


def _frame(lba, length, seed=0):
    n = len(lba)
    rng = np.random.default_rng(seed)
    ticks = np.cumsum(rng.integers(1, 1000, n))
    return TraceFrame.from_columns(ticks, length, lba, rng.integers(100, 200, n).astype(float), rng.integers(0, 2, n))


@pytest.mark.parametrize("locality", ["lru", "lru-pages"])
def test_typed_features_round_trip_the_addresses(locality):
    from training.encodings import TypedTransformer

    rng = np.random.default_rng(1)
    n = 3000
    lba = (rng.zipf(1.5, n) % 300) * 8 + 4096
    length = rng.choice([4096, 8192], n)
    frame = _frame(lba, length)
    t = TypedTransformer(continuous="quantile", locality=locality, reuse_buckets=4).fit(frame)
    assert t.heads[-1] == 1 + len(t.new_) + len(t.reuse_) and 1 <= len(t.new_) <= 4 and 1 <= len(t.reuse_) <= 4
    assert t.jump_ is not None and len(t.jump_) == 257 and np.all(np.diff(t.jump_) >= 0)  # far jumps: quantiles
    assert t.feature_names[-t.heads[-1]:][:2] == ("addr=seq", "addr=new0")
    y = t.transform(frame).astype(np.float64)
    rows = t.inverse_features(y)
    head, u = t.address_heads(frame)
    np.testing.assert_array_equal(rows[:, 5], head)  # the one-hot address head decodes to its category
    lba = t.addresses(np.column_stack([rows, u]), t.new_stack())
    np.testing.assert_array_equal(lba, frame.lba)  # and with each value's place in its bucket, the trace
    again = TypedTransformer.from_dict(json.loads(json.dumps(t.to_dict())))
    np.testing.assert_array_equal(again.addresses(np.column_stack([again.inverse_features(y), u]), again.new_stack()),
                                  frame.lba)
    assert t.inverse_transform(y).shape == (n, 5)  # without the uniforms: mid-bucket values


def test_far_jumps_land_in_the_traces_own_regions():
    """A trace that works in two narrow regions far apart: its longest strides are the jumps between
    them, and a decoded far jump lands in one of the regions, not at a far stride from wherever the
    stream is (which, wrapped into the range, drifts to anywhere in it)."""
    from training.encodings import TypedTransformer

    rng = np.random.default_rng(3)
    n = 4000
    region = np.where(rng.random(n) < 0.5, 1_000_000, 50_000_000)
    lba = region + rng.integers(0, 500, n) * 8
    t = TypedTransformer(continuous="quantile", locality="lru", reuse_buckets=4).fit(_frame(lba, np.full(n, 4096)))
    assert len(t.far_) >= 2  # the jumps back and the jumps forth
    far_heads = 1 + rng.choice(t.far_, n)
    rows = np.zeros((n, 7))
    rows[:, 1], rows[:, 5], rows[:, 6] = 4096, far_heads, rng.random(n)
    out = t.addresses(rows, t.new_stack())
    # (a jump drawn between the last quantile of one region and the first of the next lands just past the first)
    inside = ((out >= 1_000_000) & (out < 1_008_000)) | ((out >= 50_000_000) & (out < 50_008_000))
    assert inside.all(), out[~inside][:5]
    assert 0.3 < np.mean(out < 2_000_000) < 0.7  # both regions, as the trace's jumps land


@pytest.fixture(scope="module")
def stream_model(sample_frame):
    s = Synthesizer(TraceGANConfig(num_epochs=1, hidden_dim=16, latent_dim=4, seq_len=8))
    s.fit(sample_frame)
    return s


def test_the_lstm_state_is_carried_across_windows(stream_model):
    gen, c = stream_model.generator, stream_model.config
    z = torch.from_numpy(block_noise(c, 1, 0, noise_dim(c, stream_model.transformer)).reshape(1, -1, gen.noise_dim))
    z = z[:, :4 * c.seq_len]
    with torch.inference_mode():
        whole = gen(z)
        first, state = gen(z[:, :2 * c.seq_len], return_state=True)
        second = gen(z[:, 2 * c.seq_len:], state)
        fresh = gen(z[:, 2 * c.seq_len:])
    torch.testing.assert_close(torch.cat([first, second], 1), whole)  # two windows = one long run
    assert not torch.equal(second, fresh)  # and the state is what made the difference
    per_block = BLOCK_SEQUENCES * c.seq_len
    two = stream_model.sample(2 * per_block, seed=3)
    np.testing.assert_array_equal(stream_model.sample(per_block + 5, seed=3), two[:per_block + 5])
    assert not np.array_equal(stream_model.sample(per_block, seed=3, stream=1), two[:per_block])


def test_a_stream_starts_after_its_burn_in(stream_model):
    """``burn_in``: a carried stream first runs its first rows from the zero LSTM state through the
    stateful steps and drops them: from there on its rows are those of the same stream without
    burn-in (sizes, latency, opcode, addresses: the LRU stack kept the burn-in's pages, and
    inter-arrival times), its clock starting at the first kept row; across a block boundary too.
    A config saved without the key reads 0 (as before)."""
    import copy

    c = stream_model.config
    assert c.burn_in == 1024
    plain = copy.copy(stream_model)
    plain.config = replace(c, burn_in=0)
    n = BLOCK_SEQUENCES * c.seq_len + 10
    kept, whole = stream_model.sample(n, seed=3), plain.sample(n + c.burn_in, seed=3)
    assert len(kept) == n
    np.testing.assert_array_equal(kept[:, 1:], whole[c.burn_in:, 1:])
    np.testing.assert_array_equal(kept[:, 0], whole[c.burn_in:, 0] - whole[c.burn_in - 1, 0])
    np.testing.assert_array_equal(stream_model.sample(5, seed=3), kept[:5])  # the first rows, whatever the length
    longer = copy.copy(stream_model)
    longer.config = replace(c, burn_in=BLOCK_SEQUENCES * c.seq_len + 7)  # the burn-in fills a whole block and more
    np.testing.assert_array_equal(longer.sample(20, seed=3)[:, 1:], whole[longer.config.burn_in:][:20, 1:])
    old = {k: v for k, v in c.to_dict().items() if k != "burn_in"}
    assert TraceGANConfig.from_dict(old).burn_in == 0


def test_slow_inputs_continue_across_blocks():
    """``slow_noise``: a stream's last latent inputs are AR(1) processes of unit variance, with the
    recursion running on across the block boundary; the other inputs are ``block_noise``'s, and
    the same (seed, stream) gives the same numbers."""
    c = TraceGANConfig(latent_dim=6, seq_len=8, slow_noise=3)
    dim = c.latent_dim + 2
    draw = StreamNoise(c, 5, 0, dim)
    both = np.concatenate([draw(0)[0], draw(1)[0]]).astype(np.float64)
    raw = np.concatenate([block_noise(c, 5, b, dim, stream=0).reshape(-1, dim) for b in (0, 1)]).astype(np.float64)
    fast = [0, 1, 2, 6, 7]
    np.testing.assert_array_equal(both[:, fast], raw[:, fast])
    for i in range(3):
        x, a = both[:, 3 + i], slow_decay(i)
        np.testing.assert_allclose(x[1:], a * x[:-1] + np.sqrt(1 - a * a) * raw[1:, 3 + i], atol=1e-5)
    x = both[:, 3]  # time constant 16 rows: many of them in two blocks
    assert abs(x.std() - 1) < 0.1 and abs(np.corrcoef(x[:-1], x[1:])[0, 1] - slow_decay(0)) < 0.02
    again = StreamNoise(c, 5, 0, dim)
    np.testing.assert_array_equal(again(0)[0], both[:len(both) // 2].astype(np.float32))
    assert not np.array_equal(StreamNoise(c, 5, 1, dim)(0), again(0))
    assert replace(c, carry_state=False).slow_inputs == 0 and replace(c, latent_dim=2).slow_inputs == 1


def test_fake_streams_continue_their_slow_inputs():
    """In training a carried fake stream continues its slow inputs from batch to batch, as a
    sampled stream does from block to block: the slowest input (time constant 4096 rows) moves
    little from one batch's last row to the next batch's first; a fresh stream starts anywhere."""
    from training.trainer import GANTrainer

    config = TraceGANConfig(batch_size=16, hidden_dim=8, latent_dim=4, seq_len=6, join_windows=0, slow_noise=3)
    trainer = GANTrainer(config, 4)
    seen = []
    trainer.generator.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach().clone()))
    for _ in range(3):
        trainer.fake(16, "g")
    first, second, third = (z[..., 3] for z in seen)  # latent inputs 1, 2, 3 slow: 3 is the slowest
    assert (second[:, 0] - first[:, -1]).abs().max() < 0.15
    assert (third[:, 0] - second[:, -1]).abs().max() < 0.15
    assert (first[:, 1:] - first[:, :-1]).abs().max() < 0.15
    trainer.carry.clear()
    trainer.fake(16, "g")
    assert (seen[-1][:, 0, 3] - third[:, -1]).abs().max() > 0.5  # a fresh stream: a fresh start


def test_joined_windows_train_and_resume_bit_for_bit(tmp_path):
    from training.trainer import GANTrainer

    config = TraceGANConfig(num_epochs=2, batch_size=16, hidden_dim=8, latent_dim=3, seq_len=6, join_windows=3)
    data = torch.rand(80, 6, 4) * 2 - 1
    a = GANTrainer(config, 4)
    a.train_epoch(data)
    assert set(a.carry) == {"d", "g"} and a.carry["g"][1] in (0, 1, 2)
    path = a.save_checkpoint(tmp_path / "c.pt")
    b = GANTrainer(config, 4)
    b.load_checkpoint(path)
    a.train_epoch(data)
    b.train_epoch(data)
    for (k, va), vb in zip(a.generator.state_dict().items(), b.generator.state_dict().values()):
        assert torch.equal(va, vb), k
    one = GANTrainer(replace(config, join_windows=1), 4)
    one.train_epoch(data)
    assert one.carry == {}
    windows = GANTrainer(replace(config, join_windows=0, carry_state=False), 4)  # sampled as windows: no carry
    windows.train_epoch(data)
    assert windows.carry == {}


def test_join_windows_0_carries_fake_streams_through_the_epoch():
    from training.trainer import GANTrainer

    config = TraceGANConfig(num_epochs=2, batch_size=16, hidden_dim=8, latent_dim=3, seq_len=6, join_windows=0)
    trainer = GANTrainer(config, 4)
    seen = []
    fake = trainer.fake

    def spy(batch, role):
        before = trainer.carry.get(role)
        out = fake(batch, role)
        seen.append((role, batch, before is not None and before[0][0].size(1) >= batch))
        return out

    trainer.fake = spy
    trainer.train_epoch(torch.rand(50, 6, 4) * 2 - 1)  # batches of 16, 16, 16 and 2
    g = [(batch, continued) for role, batch, continued in seen if role == "g"]
    assert g == [(16, False), (16, True), (16, True), (2, True)]  # one stream each, all epoch long
    assert trainer.carry["g"][0][0].size(1) == 2  # the short last batch ends the streams: the next epoch starts fresh


def test_a_typed_model_saved_before_locality_loads_and_samples_the_same():
    from serving.onnx_export import OnnxSynthesizer

    expected = json.loads((FIXTURES / "model_v2_typed_sample.json").read_text())
    old = Synthesizer.load(FIXTURES / "model_v2_typed")
    assert old.config.locality == "none" and not old.config.carry_state and old.config.join_windows == 1
    assert old.transformer.locality == "none" and "lba" in old.transformer.continuous_names
    rows = old.sample(len(expected["rows"]), seed=expected["seed"])
    assert_same_rows(rows, np.array(expected["rows"]))
    onnx_rows = OnnxSynthesizer.from_file(FIXTURES / "model_v2_typed.onnx").sample(len(rows), seed=expected["seed"])
    np.testing.assert_array_equal(onnx_rows[:, [1, 4]], rows[:, [1, 4]])
    np.testing.assert_allclose(onnx_rows[:, 2], rows[:, 2], rtol=1e-6)


def test_val_fields_sees_reuse_that_the_lba_marginal_hides():
    from training.fidelity import field_distance

    rng = np.random.default_rng(5)
    n = 4000
    pages = rng.integers(0, 400, n)  # 400 hot pages, re-referenced at random distances
    real = _frame(pages * 8, np.full(n, 4096))
    rows = np.column_stack([real.timestamp, real.length, real.lba, real.latency, real.opcode]).astype(np.float64)
    shuffled, ordered = rows.copy(), rows.copy()
    shuffled[:, 2] = rng.permutation(pages) * 8  # the same LBAs, the same kind of reuse
    ordered[:, 2] = np.sort(pages) * 8  # the same LBAs, every repeat at distance 0
    assert field_distance(real, shuffled) < 0.01
    assert field_distance(real, ordered) > field_distance(real, shuffled) + 0.1
