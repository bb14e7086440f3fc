"""The feature GAN's networks: a conditional WGAN-GP over labelled feature vectors (docs/REFERENCE.md F2).

Generator: noise (100) + one-hot class -> ``num_layers`` × [Linear, BatchNorm, ReLU, Dropout 0.2]
-> Linear -> tanh -> ``feature_dim`` in [-1, 1]. Critic: features + one-hot -> ``num_layers`` ×
[Linear, LeakyReLU 0.2] (no BatchNorm: the gradient penalty is per sample) -> Linear -> an
unbounded score. The reference recipe's ``constants.py`` is ``FeatureGANConfig``; its class names
(``GanGenerator``, ``GanDiscriminator``) are kept.

Outputs are mapped back with the MinMax [-1, 1] scaler fitted on the training data (saved with
the model as JSON), not the recipe's ``arctanh(x)·100`` guess (F4).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from feature_gan.config import FeatureGANConfig
from training.errors import ModelError

__all__ = ["FeatureGANConfig", "GanGenerator", "GanDiscriminator", "FeatureScaler", "gradient_penalty", "one_hot"]


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    return nn.functional.one_hot(y.long(), num_classes).float()


class GanGenerator(nn.Module):
    def __init__(self, noise_dim: int, num_classes: int, feature_dim: int, *, hidden_dim: int = 256,
                 num_layers: int = 3, dropout: float = 0.2) -> None:
        super().__init__()
        layers, width = [], noise_dim + num_classes
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.BatchNorm1d(hidden_dim), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden_dim
        self.net = nn.Sequential(*layers, nn.Linear(width, feature_dim), nn.Tanh())
        self.num_classes = num_classes

    def forward(self, z: torch.Tensor, labels_onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([z, labels_onehot], dim=1))


class GanDiscriminator(nn.Module):
    """The critic: unbounded score, no BatchNorm."""

    def __init__(self, feature_dim: int, num_classes: int, *, hidden_dim: int = 256, num_layers: int = 3) -> None:
        super().__init__()
        layers, width = [], feature_dim + num_classes
        for _ in range(num_layers):
            layers += [nn.Linear(width, hidden_dim), nn.LeakyReLU(0.2)]
            width = hidden_dim
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: torch.Tensor, labels_onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, labels_onehot], dim=1))


def gradient_penalty(critic: nn.Module, real: torch.Tensor, fake: torch.Tensor, labels_onehot: torch.Tensor,
                     alpha: torch.Tensor) -> torch.Tensor:
    """E[(‖∇_x̂ D(x̂, c)‖₂ - 1)²] at x̂ = α·real + (1-α)·fake (α per sample, the condition fixed)."""
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    score = critic(x_hat, labels_onehot)
    (grad,) = torch.autograd.grad(score.sum(), x_hat, create_graph=True)
    return ((grad.norm(2, dim=1) - 1) ** 2).mean()


class FeatureScaler:
    """Per-feature MinMax to [-1, 1] fitted on the training data; exact inverse; JSON."""

    def __init__(self) -> None:
        self.min_: np.ndarray | None = None
        self.max_: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> FeatureScaler:
        self.min_, self.max_ = x.min(0).astype(np.float64), x.max(0).astype(np.float64)
        return self

    def _scale(self) -> np.ndarray:
        if self.min_ is None:
            raise ModelError("FeatureScaler is not fitted")
        span = self.max_ - self.min_
        return 2.0 / np.where(span == 0, 1.0, span)

    def transform(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.min_) * self._scale() - 1.0).astype(np.float32)

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, np.float64) + 1.0) / self._scale() + self.min_

    def to_dict(self) -> dict:
        return {"min": self.min_.tolist(), "max": self.max_.tolist()}

    @classmethod
    def from_dict(cls, data: dict) -> FeatureScaler:
        obj = cls()
        obj.min_, obj.max_ = np.array(data["min"], np.float64), np.array(data["max"], np.float64)
        return obj
