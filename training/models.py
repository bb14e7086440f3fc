"""The trace GAN's networks: multi-step LSTM generator and LSTM discriminator (docs/REFERENCE.md R4).

With ``heads`` (typed features) the generator's last features are one-hot groups, one softmax
head each. A head draws its category by the Gumbel-max trick from extra noise inputs, one per
category (``noise_dim = latent_dim + sum(heads)``), turned into Gumbel noise inside the network
(``-log(-log(Phi(z)))``): sampling stays a pure function of the input noise, so the torch and
ONNX paths and every shard draw the same categories. Training passes gradients straight through
the hard one-hot (the Gumbel-softmax estimator, temperature ``TAU``), so the discriminator sees
one-hots on both sides. With ``address_first`` (locality models) the last head, the address
action, is drawn first and a learned vector per action (``cond``) is added to every other output
before those are drawn: the heads are not independent given the LSTM state, so a reuse can come
with a reuse's size and opcode (DoppelGANger and CTGAN condition fields on a drawn category the
same way). With ``noise_skip`` a linear map of each row's latent noise is added to the flagged
continuous outputs (``skip_mask``), so those vary row by row and not only as fast as the LSTM
state moves.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMGenerator", "LSTMDiscriminator", "calibrated"]


TAU = 1.0


def _lerp(table: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Rows of ``table`` (one per last-axis column of ``pos``, uniform grids) at fractional indices ``pos``."""
    n = table.shape[1]
    pos = pos.clamp(0.0, n - 1.0)
    i = torch.floor(pos).clamp(max=n - 2)
    frac = pos - i
    pairs = torch.stack([table[:, :-1], table[:, 1:]], -1).reshape(-1, 2)  # each knot and the next: one gather
    lo, hi = pairs[i.long() + torch.arange(table.shape[0], device=pos.device) * (n - 1)].unbind(-1)
    return lo * (1.0 - frac) + hi * frac


def calibrated(pre: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor, cdf: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Calibrated continuous outputs (``training.calibration``): per column ``k`` with ``hi > lo``,
    the generator's own CDF of its pre-activation (``cdf[k]`` on a uniform grid over [lo, hi]),
    then the training column's encoded quantile at that probability (``q[k]``); ``tanh`` elsewhere."""
    on = hi > lo
    pos = (pre - lo) * ((cdf.shape[1] - 1) / torch.where(on, hi - lo, torch.ones_like(hi)))
    value = _lerp(q, _lerp(cdf, pos) * (q.shape[1] - 1))
    return torch.where(on, value, torch.tanh(pre))


class LSTMGenerator(nn.Module):
    """Noise ``(B, T, noise_dim)`` -> LSTM -> Linear -> tanh (and one-hot heads) -> ``(B, T, features)``."""

    def __init__(self, latent_dim: int, hidden_dim: int, n_features: int, *, num_layers: int = 1,
                 heads: tuple[int, ...] = (), address_first: bool = False,
                 noise_skip: tuple[bool, ...] = ()) -> None:
        super().__init__()
        self.latent_dim, self.heads = latent_dim, tuple(heads)
        self.n_continuous = n_features - sum(self.heads)
        self.noise_dim = latent_dim + sum(self.heads)
        self.lstm = nn.LSTM(latent_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, n_features)
        # address_first: the last head (the address action) is drawn first and shifts every other
        # output by a learned vector per action, so a reuse can come with a reuse's size and opcode
        self.cond = nn.Linear(self.heads[-1], n_features - self.heads[-1], bias=False) if address_first and heads else None
        if self.cond is not None:
            nn.init.zeros_(self.cond.weight)  # starts as the independent heads
        # noise_skip (one flag per continuous column): each row's latent noise reaches those outputs
        # directly, not only through the LSTM state, which moves slowly (consecutive latencies of a
        # model without it correlate 0.95, real ones 0.79)
        self.skip = None
        if any(noise_skip) and heads:
            self.skip = nn.Linear(latent_dim, self.n_continuous, bias=False)
            self.register_buffer("skip_mask", torch.tensor(noise_skip, dtype=torch.float32))
            with torch.no_grad():
                self.skip.weight.mul_(self.skip_mask[:, None])  # the other columns' rows stay 0 (no gradient)

    def set_calibration(self, lo, hi, cdf, q) -> None:
        """Install (or replace) the continuous columns' calibration tables as buffers (saved with the
        weights and traced into the ONNX graph); ``lo``/``hi`` ``(n_continuous,)``, ``cdf``/``q`` one row
        per continuous column, ``hi <= lo`` leaving a column as plain tanh."""
        for name, value in (("cal_lo", lo), ("cal_hi", hi), ("cal_cdf", cdf), ("cal_q", q)):
            self.register_buffer(name, torch.as_tensor(value, dtype=torch.float32).to(self.fc.weight.device))

    def forward(self, z: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                return_state: bool = False):
        """Features for noise ``z``; ``state`` continues the LSTM from an earlier call, and with
        ``return_state`` the new state ``(h, c)`` is returned too (a stream carried across calls)."""
        gumbel = self._gumbel(z[..., self.latent_dim:]) if self.heads else None  # once, for every head
        out, new_state, action = self._pre(z, state, gumbel)
        out = self._features(out, gumbel, action)
        return (out, new_state) if return_state else out

    def preactivations(self, z: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None):
        """The output layer before tanh and the heads' Gumbel noise (the continuous columns' tanh
        inputs, then the heads' logits; with ``address_first`` one more column, the index of the
        address action drawn), and the new LSTM state: what ``training.calibration`` reads."""
        out, new_state, action = self._pre(z, state, self._gumbel(z[..., -self.heads[-1]:]) if self.cond is not None
                                           else None)
        if action is not None:
            out = torch.cat([out, action.argmax(-1, keepdim=True).to(out.dtype)], -1)
        return out, new_state

    def _pre(self, z: torch.Tensor, state, gumbel: torch.Tensor | None):
        """``preactivations`` and, with ``address_first``, the address action drawn (its one-hot),
        given the Gumbel noise of the heads (the address head's last)."""
        hidden, new_state = self.lstm(z[..., :self.latent_dim] if self.heads else z, state)
        out = self.fc(hidden)
        if self.skip is not None:
            cont = out[..., :self.n_continuous] + self.skip(z[..., :self.latent_dim]) * self.skip_mask
            out = torch.cat([cont, out[..., self.n_continuous:]], -1)
        action = None
        if self.cond is not None:  # the address action first, then the rest given it
            k = self.heads[-1]
            action = self._one_hot(out[..., -k:] + gumbel[..., -k:])
            out = torch.cat([out[..., :-k] + self.cond(action), out[..., -k:]], -1)
        return out, new_state, action

    @staticmethod
    def _gumbel(noise: torch.Tensor) -> torch.Tensor:
        """Gumbel noise from the heads' standard-normal noise inputs: ``-log(-log(Phi(noise)))``."""
        u = (0.5 * (1.0 + torch.erf(noise * 0.7071067811865476))).clamp(1e-6, 1.0 - 1e-6)
        return -torch.log(-torch.log(u))

    def _one_hot(self, group: torch.Tensor) -> torch.Tensor:
        """The argmax of perturbed logits as a one-hot; in training with straight-through gradients."""
        hard = (group == group.max(-1, keepdim=True).values).to(group.dtype)
        if self.training:
            soft = torch.softmax(group / TAU, -1)
            hard = hard - soft.detach() + soft
        return hard

    def _features(self, out: torch.Tensor, gumbel: torch.Tensor | None, action: torch.Tensor | None) -> torch.Tensor:
        """The continuous outputs (tanh, or calibrated) and each head's one-hot draw (the address
        head's ``action``, when ``_pre`` drew it already)."""
        if not self.heads:
            return torch.tanh(out)
        if self.training:  # the heads' own logits, before the Gumbel noise: the trainer's moment term reads them
            self.head_logits = out[..., self.n_continuous:]
        heads = self.heads[:-1] if action is not None else self.heads
        logits = out[..., self.n_continuous:self.n_continuous + sum(heads)] + gumbel[..., :sum(heads)]
        cont = out[..., :self.n_continuous]
        if hasattr(self, "cal_cdf"):
            cont = calibrated(cont, self.cal_lo, self.cal_hi, self.cal_cdf, self.cal_q)
        else:
            cont = torch.tanh(cont)
        parts, start = [cont], 0
        for k in heads:
            parts.append(self._one_hot(logits[..., start:start + k]))
            start += k
        return torch.cat(parts if action is None else [*parts, action], -1)


class LSTMDiscriminator(nn.Module):
    """Sequence ``(B, T, features)`` -> LSTM -> last hidden state -> Linear -> one raw logit."""

    def __init__(self, n_features: int, hidden_dim: int, *, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.lstm(x)[0][:, -1])
