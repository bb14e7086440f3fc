"""The trace GAN's networks: multi-step LSTM generator and LSTM discriminator (docs/REFERENCE.md R4).

With ``heads`` (typed features) the generator's last features are one-hot groups, one softmax
head each. A head draws its category by the Gumbel-max trick from extra noise inputs, one per
category (``noise_dim = latent_dim + sum(heads)``), turned into Gumbel noise inside the network
(``-log(-log(Phi(z)))``): sampling stays a pure function of the input noise, so the torch and
ONNX paths and every shard draw the same categories. Training passes gradients straight through
the hard one-hot (the Gumbel-softmax estimator, temperature ``TAU``), so the discriminator sees
one-hots on both sides.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMGenerator", "LSTMDiscriminator"]


TAU = 1.0


class LSTMGenerator(nn.Module):
    """Noise ``(B, T, noise_dim)`` -> LSTM -> Linear -> tanh (and one-hot heads) -> ``(B, T, features)``."""

    def __init__(self, latent_dim: int, hidden_dim: int, n_features: int, *, num_layers: int = 1,
                 heads: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.latent_dim, self.heads = latent_dim, tuple(heads)
        self.n_continuous = n_features - sum(self.heads)
        self.noise_dim = latent_dim + sum(self.heads)
        self.lstm = nn.LSTM(latent_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, n_features)

    def forward(self, z: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None, *,
                return_state: bool = False):
        """Features for noise ``z``; ``state`` continues the LSTM from an earlier call, and with
        ``return_state`` the new state ``(h, c)`` is returned too (a stream carried across calls)."""
        hidden, new_state = self.lstm(z[..., :self.latent_dim] if self.heads else z, state)
        out = self._features(hidden, z)
        return (out, new_state) if return_state else out

    def _features(self, hidden: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        if not self.heads:
            return torch.tanh(self.fc(hidden))
        out = self.fc(hidden)
        if self.training:  # the heads' own logits, before the Gumbel noise: the trainer's moment term reads them
            self.head_logits = out[..., self.n_continuous:]
        u = (0.5 * (1.0 + torch.erf(z[..., self.latent_dim:] * 0.7071067811865476))).clamp(1e-6, 1.0 - 1e-6)
        logits = out[..., self.n_continuous:] - torch.log(-torch.log(u))
        parts, start = [torch.tanh(out[..., :self.n_continuous])], 0
        for k in self.heads:
            group = logits[..., start:start + k]
            hard = (group == group.max(-1, keepdim=True).values).to(group.dtype)
            if self.training:
                soft = torch.softmax(group / TAU, -1)
                hard = hard - soft.detach() + soft
            parts.append(hard)
            start += k
        return torch.cat(parts, -1)


class LSTMDiscriminator(nn.Module):
    """Sequence ``(B, T, features)`` -> LSTM -> last hidden state -> Linear -> one raw logit."""

    def __init__(self, n_features: int, hidden_dim: int, *, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.lstm(x)[0][:, -1])
