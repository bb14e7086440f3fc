from __future__ import annotations

import numpy as np
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
