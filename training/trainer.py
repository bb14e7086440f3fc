"""The trace GAN's trainer: ``d_updates`` D steps then ``g_updates`` G steps per batch.

With ``loss="bce"`` the maths is the reference recipe's (docs/REFERENCE.md R5): BCE with logits, real = 1 and fake = 0
for D, fake = 1 for G, Adam with betas (0.5, 0.999), fresh noise for every step, per-epoch mean
losses. What differs is plumbing: the sequences live in one tensor and batches are slices of a
seeded permutation (no per-item DataLoader collation), and one ``torch.Generator`` draws every
permutation and noise tensor, so a run is reproducible and resumable from a checkpoint bit for bit.

Beyond the recipe:

* ``loss="wgan-gp"`` makes D a Wasserstein critic (Gulrajani et al. 2017): D minimises
  ``D(fake) - D(real) + gp_weight * (|grad D(mix)| - 1)^2`` on random mixes of real and fake
  sequences, G minimises ``-D(fake)``. The penalty differentiates through the LSTM twice, which
  cuDNN cannot, so that step runs with cuDNN off.
* ``ema > 0``: a second copy of G follows the trained one as an exponential moving average of
  its weights after every G step (``ema_g = ema * ema_g + (1 - ema) * g``); that copy is what is
  sampled, validated and saved (``sampler``).
* ``join_windows != 1``: G's fake batches continue the LSTM state of the previous fake batch (one
  carried state for D's fakes, one for G's) for ``join_windows`` windows (0: until the epoch's
  short last batch ends the streams), detached in between (truncated back-propagation through
  time), so G learns windows that follow windows, which is how a carried-state sample is drawn.
  With fresh states only (1), a stream sampled for thousands of windows reaches LSTM states
  training never saw, and its output drifts (docs/QUALITY.md).
* ``BestGenerator`` keeps the weights of the epoch with the best validation score.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from training.checkpoints import TrainerState
from training.config import TraceGANConfig, slow_decay
from training.models import LSTMDiscriminator, LSTMGenerator

__all__ = ["GANTrainer", "EpochStats", "StopTraining", "BestGenerator", "moment_gap", "window_gap", "window_target"]

log = logging.getLogger(__name__)
_WHOLE_EPOCH = 1 << 62  # join_windows=0: windows a carried fake stream may run (ended by a short batch)


class StopTraining(Exception):  # noqa: N818 - a signal, not an error
    """Raised by an ``on_epoch_end`` callback to end training early, keeping what was learned."""


@dataclass
class EpochStats:
    epoch: int  # 1-based
    d_loss: float
    g_loss: float
    seconds: float

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def moment_gap(fake: torch.Tensor, real: torch.Tensor, heads: tuple[int, ...] = (),
               head_logits: torch.Tensor | None = None) -> torch.Tensor:
    """How far the fake batch's marginals are from the real batch's, over batch and time.

    Continuous features: sum of |mean(fake) - mean(real)| + |std(fake) - std(real)| (TableGAN's
    information loss, taken on the generator's outputs). One-hot heads, given the generator's
    ``head_logits`` (before the Gumbel noise): KL(real category frequencies || the mean of the
    predicted probabilities), whose gradient does not vanish when a head has saturated on one
    category — the straight-through one-hots' does, and D alone, scoring one window at a time, lets
    a binary head such as the opcode drift there and stay.
    """
    n_cont = fake.size(-1) - sum(heads)
    f, r = fake.flatten(0, 1), real.flatten(0, 1)
    gap = fake.new_zeros(())
    if n_cont:
        gap = (f[:, :n_cont].mean(0) - r[:, :n_cont].mean(0)).abs().sum() + \
            (f[:, :n_cont].std(0) - r[:, :n_cont].std(0)).abs().sum()
    if head_logits is None:
        return gap + (f[:, n_cont:].mean(0) - r[:, n_cont:].mean(0)).abs().sum()
    logits, start = head_logits.flatten(0, 1), 0
    for k in heads:
        p = r[:, n_cont + start:n_cont + start + k].mean(0)
        # log of the mean predicted probability, in log space: no clamp to cut the gradient off
        log_q = torch.logsumexp(torch.log_softmax(logits[:, start:start + k], -1), 0) - math.log(len(logits))
        gap = gap + (p * (torch.log(p.clamp_min(1e-12)) - log_q)).sum()
        start += k
    return gap


WINDOW_LAGS = (1, 8, 32)  # windows apart: where the correlation of window means is matched (window_weight)


def window_shape(x: torch.Tensor, eps: float = 1e-8) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """How rows follow rows inside the windows of ``x`` (``(B, T, F)``), per feature: the share of
    its variance that lies within a window (against between windows), the lag-1 correlation of its
    deviations from the window's mean, and its total variance."""
    d = x - x.mean(1, keepdim=True)
    within = (d * d).mean((0, 1))
    total = x.flatten(0, 1).var(0, unbiased=False)
    return within / (total + eps), (d[:, 1:] * d[:, :-1]).mean((0, 1)) / (within + eps), total


def correlation(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Per column, the Pearson correlation of ``a`` and ``b`` (``(n, F)`` each) over their rows."""
    a, b = a - a.mean(0), b - b.mean(0)
    return (a * b).mean(0) / torch.sqrt((a * a).mean(0) * (b * b).mean(0) + eps)


def window_target(windows: torch.Tensor, step: int) -> tuple[torch.Tensor, ...]:
    """What ``window_gap`` matches, from the training windows in trace order, ``step`` rows apart:
    ``window_shape`` and, per ``WINDOW_LAGS`` entry, the correlation of window means that many
    windows of ``seq_len`` rows apart (NaN where the data is too short)."""
    means, seq_len = windows.mean(1), windows.size(1)
    lagged = []
    for k in WINDOW_LAGS:
        off = max(1, round(k * seq_len / step))
        lagged.append(correlation(means[:-off], means[off:]) if len(means) > off + 2
                      else torch.full((windows.size(2),), float("nan")))
    return (*window_shape(windows), torch.stack(lagged))


def window_gap(fake: torch.Tensor, target: tuple[torch.Tensor, ...],
               history: list[torch.Tensor] | tuple = ()) -> torch.Tensor:
    """How far the fake windows' shape is from the training windows' (``window_target``), averaged
    over the features that vary in the data: |within-window variance share - the real one| +
    |within-window lag-1 correlation - the real one|, plus, per lag of ``WINDOW_LAGS`` that
    ``history`` (the same streams' earlier window means, oldest first) reaches, |correlation of the
    window means with theirs that many windows back - the real one|: the regimes a carried stream
    holds beyond one window, which D, scoring a window at a time, cannot see."""
    share, lag1, total, lagged = target
    f_share, f_lag1, _ = window_shape(fake)
    on = total > 1e-6
    gap = ((f_share - share).abs() + (f_lag1 - lag1).abs())[on].mean()
    means = fake.mean(1)
    for i, k in enumerate(WINDOW_LAGS):
        ok = on & ~torch.isnan(lagged[i])
        if len(history) >= k and ok.any():
            gap = gap + (correlation(means, history[-k][:len(means)]) - lagged[i]).abs()[ok].mean()
    return gap


class GANTrainer(TrainerState):
    """Owns G, D, their optimizers and the random stream; ``fit`` runs epochs."""

    epoch_type = EpochStats

    def __init__(self, config: TraceGANConfig, n_features: int, *, heads: tuple[int, ...] = (),
                 noise_skip: tuple[bool, ...] = (), sticky: tuple[tuple[int, int, float], ...] = (),
                 device: str = "cpu") -> None:
        self.config = config
        self.sticky = tuple(sticky)  # (first noise input, width, keep probability) per sticky head
        k = config.slow_inputs  # the noise inputs a stream carries from row to row: the slow ones, then the sticky heads'
        self.carried = list(range(config.latent_dim - k, config.latent_dim)) + \
            [a + j for a, w, _ in self.sticky for j in range(w)]
        self.device = torch.device(device)
        torch.manual_seed(config.seed)  # initial weights
        first = config.address_first and config.feature_mode == "typed" and config.locality != "none"
        self.generator = LSTMGenerator(config.latent_dim, config.hidden_dim, n_features, num_layers=config.num_layers,
                                       heads=heads, address_first=first, noise_skip=noise_skip).to(self.device)
        self.ema = copy.deepcopy(self.generator).eval().requires_grad_(False) if config.ema > 0 else None
        self.discriminator = LSTMDiscriminator(n_features, config.hidden_dim,
                                               num_layers=config.num_layers).to(self.device)
        betas = (config.beta1, config.beta2)
        fused = self.device.type == "cpu"  # one fused kernel per step instead of ~10 per tensor
        self.opt_g = torch.optim.Adam(self.generator.parameters(), lr=config.lr_g, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.lr_d, betas=betas, fused=fused)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.bce = nn.BCEWithLogitsLoss()
        self.epoch = 0
        self.history: list[EpochStats] = []
        self.carry: dict[str, tuple] = {}  # role -> (LSTM state, windows left), join_windows != 1
        self.slow_prev: dict[str, torch.Tensor] = {}  # role -> its streams' last slow and sticky inputs
        self.window_target: tuple[torch.Tensor, ...] | None = None  # of the training data (window_weight)
        self.window_means: list[torch.Tensor] = []  # G's fake streams' last window means, oldest first

    def fake(self, batch: int, role: str) -> torch.Tensor:
        """A fake batch from fresh noise; with ``join_windows != 1`` it continues ``role``'s stream
        (its LSTM state, slow inputs and kept head noise)."""
        if self.config.join_windows == 1 or not self.config.carry_state:  # sampled as windows: trained as windows
            return self.generator(self._stream_noise(self.noise(batch), None))
        state, left = self.carry.get(role, (None, 0))
        prev = None
        if state is None or left == 0 or state[0].size(1) < batch:
            state, left = None, self.config.join_windows or _WHOLE_EPOCH
            if role == "g":  # new streams: their window means start again
                self.window_means.clear()
        else:
            state = tuple(s[:, :batch] for s in state)
            prev = self.slow_prev[role][:batch] if role in self.slow_prev else None
        z = self._stream_noise(self.noise(batch), prev)
        out, new = self.generator(z, state, return_state=True)
        self.carry[role] = (tuple(s.detach() for s in new), left - 1)
        if self.carried:
            self.slow_prev[role] = z[:, -1, self.carried].clone()
        return out

    def _stream_noise(self, z: torch.Tensor, prev: torch.Tensor | None) -> torch.Tensor:
        """The noise as a stream draws it (``StreamNoise`` in training): ``slow_noise``'s last latent
        inputs made AR(1) along time, and each sticky head's inputs kept from the row before with its
        probability, continuing ``prev`` (``(B, carried inputs)``) or from a stationary start; ``z``
        (fresh noise) is written in place."""
        if not self.carried:
            return z
        k, lat = self.config.slow_inputs, self.config.latent_dim  # as sampled (StreamNoise)
        if prev is None:
            prev = torch.randn(z.size(0), len(self.carried), generator=self.rng).to(z.device)
        if k:
            a = torch.tensor([slow_decay(i) for i in range(k)], dtype=z.dtype, device=z.device)
            scale, x = torch.sqrt(1 - a * a), prev[:, :k]
            for t in range(z.size(1)):
                x = z[:, t, lat - k:lat] = a * x + scale * z[:, t, lat - k:lat]
        if self.sticky:
            keep = torch.rand(z.size(0), z.size(1), len(self.sticky), generator=self.rng).to(z.device)
            at = k
            for h, (a, w, q) in enumerate(self.sticky):
                x = prev[:, at:at + w]
                for t in range(z.size(1)):
                    x = z[:, t, a:a + w] = torch.where(keep[:, t, h, None] < q, x, z[:, t, a:a + w])
                at += w
        return z

    def noise(self, batch: int) -> torch.Tensor:
        c = self.config
        return torch.randn(batch, c.seq_len, self.generator.noise_dim, generator=self.rng).to(self.device)

    def discriminator_step(self, real: torch.Tensor) -> torch.Tensor:
        """One D update on a real batch and a fresh fake batch; returns the loss (a 0-d tensor).

        Real and fake go through D as one batch of 2B: the same two BCE means as two separate
        passes (each sequence is scored independently), with half the LSTM calls.
        """
        b = real.size(0)
        self.opt_d.zero_grad(set_to_none=True)
        with torch.no_grad():
            fake = self.fake(b, "d")
        logits = self.discriminator(torch.cat([real, fake]))
        if self.config.loss == "wgan-gp":
            loss = logits[b:].mean() - logits[:b].mean() + self.config.gp_weight * self._gradient_penalty(real, fake)
        else:
            loss = (self.bce(logits[:b], torch.ones_like(logits[:b]))
                    + self.bce(logits[b:], torch.zeros_like(logits[b:])))
        loss.backward()
        self.opt_d.step()
        return loss.detach()

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        eps = torch.rand(real.size(0), 1, 1, generator=self.rng).to(self.device)
        mix = (eps * real + (1 - eps) * fake).requires_grad_(True)
        with torch.backends.cudnn.flags(enabled=False):
            score = self.discriminator(mix)
            (grad,) = torch.autograd.grad(score.sum(), mix, create_graph=True)
        return ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()

    def generator_step(self, batch: int | torch.Tensor) -> torch.Tensor:
        """One G update: make D call a fresh fake batch real; returns the loss (a 0-d tensor).

        Given the real batch (not only its size) and ``moment_weight > 0``, the loss adds the
        moment-matching term of ``moment_gap``. D's weights need no gradient here (the reference recipe
        computes and then discards it).
        """
        real = batch if isinstance(batch, torch.Tensor) else None
        self.opt_g.zero_grad(set_to_none=True)
        self.discriminator.requires_grad_(False)
        try:
            fake = self.fake(real.size(0) if real is not None else batch, "g")
            logits = self.discriminator(fake)
            loss = -logits.mean() if self.config.loss == "wgan-gp" else self.bce(logits, torch.ones_like(logits))
            if real is not None and self.config.moment_weight > 0:
                loss = loss + self.config.moment_weight * moment_gap(
                    fake, real, self.generator.heads, getattr(self.generator, "head_logits", None))
            if self.config.window_weight > 0 and self.window_target is not None:
                cont = fake[..., :self.generator.n_continuous]
                loss = loss + self.config.window_weight * window_gap(cont, self.window_target, self.window_means)
                if self.config.carry_state and self.config.join_windows != 1:  # windows that continue streams
                    self.window_means = [*self.window_means[1 - max(WINDOW_LAGS):], cont.mean(1).detach()]
            loss.backward()
        finally:
            self.discriminator.requires_grad_(True)
        self.opt_g.step()
        if self.ema is not None:
            with torch.no_grad():
                for avg, p in zip(self.ema.parameters(), self.generator.parameters()):
                    avg.lerp_(p, 1.0 - self.config.ema)
        return loss.detach()

    def train_epoch(self, data: torch.Tensor) -> EpochStats:
        """One pass over ``data`` (``(m, seq_len, F)``) in shuffled batches."""
        c = self.config
        start = time.perf_counter()
        self.generator.train()
        self.discriminator.train()
        order = torch.randperm(len(data), generator=self.rng)
        if c.window_weight > 0 and self.window_target is None:
            cont = data[..., :self.generator.n_continuous].float()
            self.window_target = tuple(t.to(self.device) for t in window_target(cont, c.window_stride))
        d_sum = torch.zeros((), dtype=torch.float64)
        g_sum = torch.zeros((), dtype=torch.float64)
        n_batches = 0
        for i in range(0, len(data), c.batch_size):
            real = data[order[i:i + c.batch_size]].to(self.device)
            for _ in range(c.d_updates):
                d_sum += self.discriminator_step(real).double().cpu() / c.d_updates
            for _ in range(c.g_updates):
                g_sum += self.generator_step(real).double().cpu() / c.g_updates
            n_batches += 1
        self.epoch += 1
        stats = EpochStats(self.epoch, float(d_sum) / n_batches, float(g_sum) / n_batches, time.perf_counter() - start)
        self.history.append(stats)
        return stats

    def fit(self, data: torch.Tensor, *, on_epoch_end: Callable[[EpochStats], None] | None = None) -> list[EpochStats]:
        """Train until ``config.num_epochs`` epochs are done (continuing after a resume), or until
        ``on_epoch_end`` raises ``StopTraining``."""
        data = data.contiguous()
        while self.epoch < self.config.num_epochs:
            stats = self.train_epoch(data)
            log.info("epoch %d/%d  d_loss %.4f  g_loss %.4f  (%.2fs)", stats.epoch,
                     self.config.num_epochs, stats.d_loss, stats.g_loss, stats.seconds)
            if on_epoch_end is not None:
                try:
                    on_epoch_end(stats)
                except StopTraining as stop:
                    log.warning("training stopped after epoch %d: %s", stats.epoch, stop)
                    break
        return self.history

    @property
    def sampler(self) -> nn.Module:
        """The generator to sample from: the moving average when there is one."""
        return self.ema if self.ema is not None else self.generator

    def _extra_state(self) -> dict:
        extra = {"ema": self.ema.state_dict()} if self.ema is not None else {}
        return {**extra, "carry": {role: [list(state), left] for role, (state, left) in self.carry.items()},
                "slow_prev": dict(self.slow_prev), "window_means": list(self.window_means)}

    def _load_extra_state(self, state: dict) -> None:
        if self.ema is not None:
            self.ema.load_state_dict(state.get("ema", state["generator"]))
        self.carry = {role: (tuple(s.to(self.device) for s in st), int(left))
                      for role, (st, left) in state.get("carry", {}).items()}
        self.slow_prev = {role: x.to(self.device) for role, x in state.get("slow_prev", {}).items()}
        self.window_means = [x.to(self.device) for x in state.get("window_means", [])]


class BestGenerator:
    """The generator weights of the epoch with the lowest validation score seen so far."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.value = float("inf")
        self.state: dict | None = None

    def update(self, epoch: int, value: float, generator: nn.Module) -> bool:
        """Keep ``generator``'s weights if ``value`` beats the best so far; True if it did."""
        if not value < self.value:  # NaN never wins
            return False
        self.epoch, self.value = epoch, value
        self.state = {k: v.detach().clone() for k, v in generator.state_dict().items()}
        return True

    def restore(self, generator: nn.Module) -> int | None:
        """Load the kept weights into ``generator``; returns their epoch (None if none kept)."""
        if self.state is not None:
            generator.load_state_dict(self.state)
        return self.epoch
