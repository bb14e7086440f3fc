"""The trace GAN's networks: multi-step LSTM generator and LSTM discriminator (seed section 2-3)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["LSTMGenerator", "LSTMDiscriminator"]


class LSTMGenerator(nn.Module):
    """Noise ``(B, T, latent)`` -> LSTM -> Linear -> tanh -> ``(B, T, features)`` in [-1, 1]."""

    def __init__(self, latent_dim: int, hidden_dim: int, n_features: int, *, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(latent_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, n_features)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(self.lstm(z)[0]))


class LSTMDiscriminator(nn.Module):
    """Sequence ``(B, T, features)`` -> LSTM -> last hidden state -> Linear -> one raw logit."""

    def __init__(self, n_features: int, hidden_dim: int, *, num_layers: int = 1) -> None:
        super().__init__()
        self.lstm = nn.LSTM(n_features, hidden_dim, num_layers=num_layers, batch_first=True)
        self.fc = nn.Linear(hidden_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.lstm(x)[0][:, -1])
