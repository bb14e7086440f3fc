from __future__ import annotations

import numpy as np
import pytest
import torch

from training.models import LSTMDiscriminator, LSTMGenerator
from training.trainer import GANTrainer


def data(n=96, seq=8, f=4):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, seq, f, generator=g) * 2 - 1


def test_shapes_and_ranges():
    g, d = LSTMGenerator(4, 16, 4), LSTMDiscriminator(4, 16)
    out = g(torch.randn(3, 8, 4))
    assert out.shape == (3, 8, 4) and out.abs().max() <= 1
    assert d(out).shape == (3, 1)


def test_both_networks_get_gradients(tiny_config):
    t = GANTrainer(tiny_config, 4)
    before_g = [p.clone() for p in t.generator.parameters()]
    before_d = [p.clone() for p in t.discriminator.parameters()]
    t.train_epoch(data())
    assert all(not torch.equal(a, b) for a, b in zip(before_g, t.generator.parameters()))
    assert all(not torch.equal(a, b) for a, b in zip(before_d, t.discriminator.parameters()))
    assert np.isfinite(t.history[0].d_loss) and np.isfinite(t.history[0].g_loss)


def test_same_seed_same_weights(tiny_config):
    a, b = GANTrainer(tiny_config, 4), GANTrainer(tiny_config, 4)
    a.fit(data())
    b.fit(data())
    for pa, pb in zip(a.generator.parameters(), b.generator.parameters()):
        assert torch.equal(pa, pb)


def test_resume_from_checkpoint_equals_uninterrupted(tiny_config, tmp_path):
    from dataclasses import replace

    full = GANTrainer(replace(tiny_config, num_epochs=3), 4)
    full.fit(data())
    first = GANTrainer(replace(tiny_config, num_epochs=1), 4)
    first.fit(data())
    ckpt = first.save_checkpoint(tmp_path / "c.pt")
    resumed = GANTrainer(replace(tiny_config, num_epochs=3), 4)
    resumed.load_checkpoint(ckpt)  # torch.load(weights_only=True)
    resumed.fit(data())
    assert [h.epoch for h in resumed.history] == [1, 2, 3]
    for pa, pb in zip(full.generator.parameters(), resumed.generator.parameters()):
        assert torch.equal(pa, pb)
    assert resumed.history[-1].d_loss == full.history[-1].d_loss


def test_moment_gap_by_hand():
    from training.trainer import moment_gap

    real = torch.tensor([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])  # reads and writes, half each
    fake = torch.tensor([[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]]])  # all reads
    std = real.flatten(0, 1).std(0)  # 4 samples of 0/1 in equal parts (unbiased std)
    assert moment_gap(real, real) == 0
    assert torch.isclose(moment_gap(fake, real), 0.5 + 0.5 + std.sum())


def test_generator_loss_adds_the_weighted_moment_gap(tiny_config):
    from dataclasses import replace

    from training.trainer import moment_gap

    real = torch.rand(8, tiny_config.seq_len, 5) * 2 - 1
    losses, gaps = [], []
    for weight in (0.0, 2.5):
        trainer = GANTrainer(replace(tiny_config, moment_weight=weight, join_windows=1), 5, heads=(2,))
        real[..., 3:] = torch.nn.functional.one_hot(torch.arange(8 * tiny_config.seq_len) % 2, 2).float().view(8, -1, 2)
        state = trainer.rng.get_state()
        with torch.no_grad():  # the fake batch the step will draw, and its opcode head's logits
            gaps.append(float(moment_gap(trainer.fake(8, "g"), real, (2,), trainer.generator.head_logits)))
        trainer.rng.set_state(state)
        losses.append(float(trainer.generator_step(real)))
    assert gaps[0] == gaps[1] > 0
    assert losses[1] - losses[0] == pytest.approx(2.5 * gaps[0], rel=1e-5)


def test_moment_gap_pulls_a_saturated_head_back():
    """A head stuck on one category (logits +-10: the straight-through gradient is ~0) still gets a
    strong gradient toward the real frequencies from the KL term."""
    from training.trainer import moment_gap

    real = torch.nn.functional.one_hot(torch.arange(40) % 2, 2).float().view(4, 10, 2)  # half reads
    logits = torch.tensor([10.0, -10.0]).repeat(4, 10, 1).requires_grad_(True)
    fake = torch.nn.functional.one_hot(torch.zeros(40, dtype=torch.long), 2).float().view(4, 10, 2)
    gap = moment_gap(fake, real, (2,), logits)
    assert gap > 5  # KL(0.5, 0.5 || ~1, ~2e-9) = 0.5 log(0.5) + 0.5 log(0.5 / 2e-9) ~ 9.3
    gap.backward()
    assert logits.grad[..., 1].mean() < -0.01  # raise the write logit (gradient descent)
    soft = torch.softmax(logits.detach(), -1)
    assert soft[..., 1].max() < 1e-8  # where the straight-through gradient, ~p(1-p), is nothing


def test_window_shape_by_hand():
    """Column 0 is constant inside each window (all its variance between windows: share 0); column
    1 alternates +-1 around the same mean in every window (all within: share 1, lag-1 -1); column 2
    climbs 0..3 in every window (share 1; deviations -1.5, -0.5, 0.5, 1.5: lag-1 (0.75 - 0.25 + 0.75) / 3 / 1.25)."""
    from training.trainer import window_gap, window_shape, window_target

    x = torch.zeros(2, 4, 3)
    x[0, :, 0], x[1, :, 0] = 1.0, -1.0
    x[:, :, 1] = torch.tensor([1.0, -1.0, 1.0, -1.0])
    x[:, :, 2] = torch.arange(4.0)
    share, lag1, total = window_shape(x)
    assert torch.allclose(share, torch.tensor([0.0, 1.0, 1.0]), atol=1e-6)
    d = torch.arange(4.0) - 1.5  # column 2's deviations from its window mean
    assert torch.allclose(lag1, torch.tensor([0.0, -1.0, float((d[1:] * d[:-1]).sum() / 3 / (d * d).mean())]),
                          atol=1e-6)
    assert torch.allclose(total, torch.tensor([1.0, 1.0, 1.25]))
    target = window_target(x, 4)  # two windows: too few for the correlation of window means
    assert all(torch.equal(a, b) for a, b in zip(target, (share, lag1, total)))
    assert target[3].shape == (3, 3) and target[3].isnan().all()
    assert window_gap(x, target) == 0
    swapped = x[:, :, [1, 0, 2]]  # columns 0 and 1 trade shapes: share off by 1 and lag-1 by 1 in each
    assert torch.isclose(window_gap(swapped, target), torch.tensor(4 / 3))
    assert window_gap(swapped, (share, lag1, torch.tensor([0.0, 0.0, 1.25]), target[3])) == 0  # constant: left out


def test_window_gap_matches_the_correlation_of_window_means_across_windows():
    """Training windows (step = seq_len) whose means alternate +1, -1 in trace order: in column 0 window
    means correlate -1 one window apart and +1 at 8 and 32. A fake batch whose history (one window)
    says the same streams' last window had the same mean adds |1 - target| at lag 1, per column; the
    opposite mean adds |-1 - target| (0 for column 0); lags 8 and 32, beyond the history, add nothing."""
    from training.trainer import window_gap, window_target

    sign = torch.tensor([1.0, -1.0]).repeat(40)  # 80 windows of 4 rows, step 4
    windows = sign[:, None, None] + 0.1 * torch.tensor([1.0, -1.0, 1.0, -1.0])[None, :, None]
    windows = torch.cat([windows, windows * 0.5 + torch.arange(80.0)[:, None, None] % 3], 2)  # a second column
    target = window_target(windows, 4)
    assert torch.allclose(target[3][:, 0], torch.tensor([-1.0, 1.0, 1.0]), atol=1e-6)
    fake = torch.randn(16, 4, 2)
    means = fake.mean(1)
    base = window_gap(fake, target)
    with_same = window_gap(fake, target, [means.clone()])
    with_opposite = window_gap(fake, target, [-means])
    lag1 = target[3][0]
    assert torch.isclose(with_same - base, ((1 - lag1).abs()).mean())
    assert torch.isclose(with_opposite - base, ((-1 - lag1).abs()).mean())


def test_generator_loss_adds_the_weighted_window_gap(tiny_config):
    """``window_weight``: G's loss adds that multiple of ``window_gap`` against the training windows'
    shape (taken once, when the first epoch starts), and the term's gradient reaches G."""
    from dataclasses import replace

    from training.trainer import window_gap, window_target

    data = torch.rand(16, tiny_config.seq_len, 4) * 2 - 1
    losses, gaps = [], []
    for weight in (0.0, 2.5):
        trainer = GANTrainer(replace(tiny_config, window_weight=weight, join_windows=1), 4)
        trainer.window_target = window_target(data, tiny_config.seq_len)
        state = trainer.rng.get_state()
        with torch.no_grad():
            gaps.append(float(window_gap(trainer.fake(16, "g"), trainer.window_target)))
        trainer.rng.set_state(state)
        losses.append(float(trainer.generator_step(data)))
    assert gaps[0] == gaps[1] > 0
    assert losses[1] - losses[0] == pytest.approx(2.5 * gaps[0], rel=1e-5)
    trainer = GANTrainer(replace(tiny_config, window_weight=1.0, num_epochs=1), 4)
    assert trainer.window_target is None
    trainer.fit(data)
    assert all(torch.allclose(a, b, equal_nan=True)
               for a, b in zip(trainer.window_target, window_target(data, tiny_config.seq_len)))
    fake = trainer.fake(16, "g")
    window_gap(fake, trainer.window_target).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainer.generator.parameters())


def test_g_keeps_its_streams_window_means_until_they_restart(tiny_config):
    """With carried fake streams, each G step appends its windows' means (detached) to the history
    the next steps' window_gap reads, up to the longest lag; new streams start it again."""
    from dataclasses import replace

    from training.trainer import WINDOW_LAGS, window_target

    data = torch.rand(64, tiny_config.seq_len, 4) * 2 - 1
    trainer = GANTrainer(replace(tiny_config, window_weight=1.0, carry_state=True, join_windows=0), 4)
    trainer.window_target = window_target(data, tiny_config.seq_len)
    seen, fake = [], trainer.fake
    trainer.fake = lambda b, role: seen.append(fake(b, role)) or seen[-1]
    for _ in range(3):
        trainer.generator_step(data[:16])
    assert len(trainer.window_means) == 3 and not trainer.window_means[-1].requires_grad
    assert torch.equal(trainer.window_means[-1], seen[-1].detach().mean(1))
    trainer.generator_step(data[:32])  # more streams than are carried: new ones
    assert len(trainer.window_means) == 1 and trainer.window_means[0].shape == (32, 4)
    for _ in range(max(WINDOW_LAGS) + 3):
        trainer.generator_step(data[:32])
    assert len(trainer.window_means) == max(WINDOW_LAGS)


def test_address_first_conditions_the_other_outputs_on_the_drawn_action():
    """``address_first``: the last head is drawn first and shifts every other output by its row of
    ``cond``; here action 2 pushes the size head to its second category, so every row that drew
    action 2 has that size, while the other rows keep a mix. Zero-initialised, it starts as the
    independent heads, and gradients reach it through the straight-through one-hot."""
    torch.manual_seed(0)
    gen = LSTMGenerator(2, 8, 1 + 2 + 3, heads=(2, 3), address_first=True)
    z = torch.randn(64, 12, gen.noise_dim)
    plain = LSTMGenerator(2, 8, 1 + 2 + 3, heads=(2, 3))
    plain.load_state_dict({k: v for k, v in gen.state_dict().items() if k != "cond.weight"})
    gen.eval(), plain.eval()
    assert torch.equal(gen(z), plain(z))  # zero-initialised: the independent heads
    with torch.no_grad():
        gen.cond.weight[2, 2] = 50.0  # outputs [continuous, size0, size1] x actions [0, 1, 2]
    y = gen(z).reshape(-1, 6)
    action2 = y[:, 5] == 1
    assert action2.any() and (~action2).any()
    assert (y[action2, 2] == 1).all() and (y[~action2, 2] == 0).any()
    gen.train()
    gen(z).sum().backward()
    assert gen.cond.weight.grad is not None and gen.cond.weight.grad.abs().sum() > 0


def test_each_head_is_the_gumbel_max_of_its_own_noise_inputs():
    """``forward`` draws each head by the Gumbel-max of its logits (``preactivations``: with
    ``address_first``, already shifted by the drawn action) and of its own noise inputs; the
    address action is drawn once and is the same one-hot as a second draw from the same noise (and
    its index is ``preactivations``' last column, which calibration reads)."""
    torch.manual_seed(1)
    gen = LSTMGenerator(3, 8, 2 + 4 + 2 + 5, heads=(4, 2, 5), address_first=True).eval()
    with torch.no_grad():
        gen.cond.weight.normal_()
    z = torch.randn(16, 12, gen.noise_dim)
    pre, _ = gen.preactivations(z)
    drawn, pre = pre[..., -1], pre[..., :-1]
    torch.testing.assert_close(drawn, gen(z)[..., -5:].argmax(-1).float(), rtol=0, atol=0)
    logits = pre[..., 2:] + gen._gumbel(z[..., 3:])
    want, start = [torch.tanh(pre[..., :2])], 0
    for k in (4, 2, 5):
        group = logits[..., start:start + k]
        want.append(torch.nn.functional.one_hot(group.argmax(-1), k).float())
        start += k
    torch.testing.assert_close(gen(z), torch.cat(want, -1), rtol=0, atol=0)


def test_noise_skip_gives_the_chosen_columns_their_own_row_noise():
    """``noise_skip``: each row's latent noise reaches the flagged continuous outputs through
    ``skip``, not only through the LSTM state. With the LSTM silenced (zero weights: the same hidden
    state on every row), the unflagged column (the inter-arrival time's place) is one value on
    every row, as in a generator without the path, while the flagged one varies row by row with
    that row's noise alone; gradients reach the flagged column's weights only."""
    torch.manual_seed(0)
    gen = LSTMGenerator(4, 8, 2 + 3, heads=(3,), noise_skip=(False, True))
    with torch.no_grad():
        for p in gen.lstm.parameters():
            p.zero_()
    gen.eval()
    z = torch.randn(8, 12, gen.noise_dim)
    y = gen(z)[..., :2].reshape(-1, 2)
    assert y[:, 0].std() < 1e-6 and y[:, 1].std() > 0.05
    z2 = z.clone()
    z2[3, 5, :4] += 1.0  # one row's latent noise
    changed = (gen(z2)[..., :2] != gen(z)[..., :2]).any(-1)
    assert changed[3, 5] and changed.sum() == 1
    gen.train()
    gen(z).sum().backward()
    grad = gen.skip.weight.grad
    assert grad[1].abs().sum() > 0 and grad[0].abs().sum() == 0 and gen.skip.weight[0].abs().sum() == 0
    assert LSTMGenerator(4, 8, 2 + 3, heads=(3,), noise_skip=(False, False)).skip is None
