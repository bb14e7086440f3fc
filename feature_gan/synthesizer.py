"""Training and sampling of the feature GAN: ``GanTrainer`` (WGAN-GP steps) and ``FeatureSynthesizer``
(config + scaler + class names + generator, saved and loaded as one, JSON + state_dict)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from feature_gan.config import FeatureGANConfig
from feature_gan.data import FeatureData
from feature_gan.networks import FeatureScaler, GanDiscriminator, GanGenerator, gradient_penalty, one_hot
from training.checkpoints import CheckpointCadence, TrainerState
from training.errors import ConfigError, ModelError
from training.utils import load_tensors

__all__ = ["GanTrainer", "FeatureSynthesizer", "FeatureEpoch"]

log = logging.getLogger(__name__)
_FORMAT_VERSION = 1


@dataclass
class FeatureEpoch:
    epoch: int
    critic_loss: float
    generator_loss: float
    wasserstein: float
    gradient_penalty: float
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)


class GanTrainer(TrainerState):
    """``n_critic`` critic steps (with gradient penalty) per generator step: the reference trainer
    (docs/REFERENCE.md)."""

    epoch_type = FeatureEpoch
    device = "cpu"

    def __init__(self, generator: GanGenerator, discriminator: GanDiscriminator, config: FeatureGANConfig,
                 num_classes: int) -> None:
        self.generator, self.discriminator, self.config, self.num_classes = generator, discriminator, config, num_classes
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas)
        self.rng = torch.Generator().manual_seed(config.seed)
        self.epoch = 0
        self.history: list[FeatureEpoch] = []

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.config.noise_dim, generator=self.rng)

    def critic_step(self, real: torch.Tensor, labels: torch.Tensor) -> tuple[float, float, float]:
        """One critic update; returns (critic loss, Wasserstein estimate, gradient penalty)."""
        c = one_hot(labels, self.num_classes)
        with torch.no_grad():
            fake = self.generator(self._noise(len(real)), c)
        self.opt_d.zero_grad(set_to_none=True)
        w = self.discriminator(real, c).mean() - self.discriminator(fake, c).mean()
        gp = gradient_penalty(self.discriminator, real, fake, c, torch.rand(len(real), 1, generator=self.rng))
        loss = -w + self.config.lambda_gp * gp
        loss.backward()
        self.opt_d.step()
        return loss.item(), w.item(), gp.item()

    def generator_step(self, labels: torch.Tensor) -> float:
        c = one_hot(labels, self.num_classes)
        self.opt_g.zero_grad(set_to_none=True)
        loss = -self.discriminator(self.generator(self._noise(len(labels)), c), c).mean()
        loss.backward()
        self.opt_g.step()
        return loss.item()

    def train_epoch(self, x: torch.Tensor, y: torch.Tensor) -> FeatureEpoch:
        start, cfg = time.perf_counter(), self.config
        self.generator.train()
        self.discriminator.train()
        order = torch.randperm(len(x), generator=self.rng)
        sums = np.zeros(4)
        steps = 0
        for i in range(0, len(x) - 1, cfg.batch_size):  # BatchNorm needs >= 2 samples
            idx = order[i:i + cfg.batch_size]
            if len(idx) < 2:
                continue
            crit = np.mean([self.critic_step(x[idx], y[idx]) for _ in range(cfg.n_critic)], axis=0).tolist()
            sums += [crit[0], self.generator_step(y[idx]), crit[1], crit[2]]
            steps += 1
        self.epoch += 1
        m = sums / max(steps, 1)
        stats = FeatureEpoch(self.epoch, *(float(v) for v in m), time.perf_counter() - start)  # plain floats:
        # checkpoints load with weights_only=True, which refuses NumPy scalars
        self.history.append(stats)
        return stats

    def train(self, x: torch.Tensor, y: torch.Tensor, epochs: int | None = None,
              on_epoch_end: Callable[[FeatureEpoch], None] | None = None) -> list[FeatureEpoch]:
        target = epochs if epochs is not None else self.config.epochs
        while self.epoch < target:
            stats = self.train_epoch(x, y)
            log.info("epoch %d  critic %.4f  G %.4f  W %.4f  GP %.4f", stats.epoch, stats.critic_loss,
                     stats.generator_loss, stats.wasserstein, stats.gradient_penalty)
            if on_epoch_end is not None:
                on_epoch_end(stats)
        return self.history

    def _extra_state(self) -> dict:
        return {"torch_rng": torch.get_rng_state()}  # the generator's dropout draws from it

    def _load_extra_state(self, state: dict) -> None:
        if "torch_rng" in state:
            torch.set_rng_state(state["torch_rng"].cpu())


class FeatureSynthesizer:
    """Config + scaler + class names + generator: ``fit``, ``sample``, ``save``, ``load``."""

    def __init__(self, config: FeatureGANConfig | None = None) -> None:
        self.config = config or FeatureGANConfig()
        self.scaler: FeatureScaler | None = None
        self.classes: list[str] = []
        self.feature_names: list[str] = []
        self.generator: GanGenerator | None = None
        self.history: list[dict] = []

    def _networks(self, feature_dim: int) -> tuple[GanGenerator, GanDiscriminator]:
        c, k = self.config, len(self.classes)
        torch.manual_seed(c.seed)
        return (GanGenerator(c.noise_dim, k, feature_dim, hidden_dim=c.hidden_dim, num_layers=c.num_layers,
                             dropout=c.dropout),
                GanDiscriminator(feature_dim, k, hidden_dim=c.hidden_dim, num_layers=c.num_layers))

    def fit(self, data: FeatureData, *, on_epoch_end=None, checkpoint_dir: str | Path | None = None,
            checkpoint_every: int = 0, on_checkpoint=None, resume_from: str | Path | None = None) -> FeatureSynthesizer:
        self.classes, self.feature_names = list(data.classes), list(data.feature_names)
        self.scaler = FeatureScaler().fit(data.x)
        g, d = self._networks(data.x.shape[1])
        trainer = GanTrainer(g, d, self.config, len(self.classes))
        if resume_from is not None:
            trainer.load_checkpoint(resume_from)
        x, y = torch.from_numpy(self.scaler.transform(data.x)), torch.from_numpy(data.y)
        cadence = CheckpointCadence(checkpoint_dir, checkpoint_every, self.config.epochs, on_checkpoint)

        def epoch_end(stats: FeatureEpoch) -> None:
            if on_epoch_end is not None:
                on_epoch_end(stats)
            if cadence.due(stats.epoch):
                cadence.save(trainer, stats.epoch)

        trainer.train(x, y, on_epoch_end=epoch_end)
        self.generator = g.eval()
        self.history = [h.to_dict() for h in trainer.history]
        return self

    def class_index(self, name: str | int) -> int:
        if isinstance(name, int) or (isinstance(name, str) and name.isdigit() and name not in self.classes):
            idx = int(name)
            if not 0 <= idx < len(self.classes):
                raise ConfigError(f"class index {idx} out of range 0..{len(self.classes) - 1}")
            return idx
        if name not in self.classes:
            raise ConfigError(f"unknown class {name!r}; classes: {', '.join(self.classes)}")
        return self.classes.index(name)

    def sample(self, class_name: str | int, n: int, *, seed: int = 0) -> np.ndarray:
        """``n`` feature vectors of one class in the data's units (exact inverse of the scaler)."""
        if self.generator is None:
            raise ModelError("FeatureSynthesizer is not fitted")
        idx = self.class_index(class_name)
        rng = torch.Generator().manual_seed(int(np.random.SeedSequence([seed, idx]).generate_state(1)[0]))
        z = torch.randn(n, self.config.noise_dim, generator=rng)
        c = one_hot(torch.full((n,), idx), len(self.classes))
        with torch.inference_mode():
            y = self.generator(z, c).numpy() if n else np.empty((0, len(self.feature_names)), np.float32)
        return self.scaler.inverse_transform(y)

    def save(self, directory: str | Path) -> Path:
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": _FORMAT_VERSION, "config": self.config.to_dict(), "scaler": self.scaler.to_dict(),
                "classes": self.classes, "feature_names": self.feature_names, "history": self.history}
        (d / "feature_gan.json").write_text(json.dumps(meta, indent=2))
        torch.save(self.generator.state_dict(), d / "generator.pt")
        return d

    @classmethod
    def load(cls, directory: str | Path) -> FeatureSynthesizer:
        d = Path(directory)
        if not (d / "feature_gan.json").is_file() or not (d / "generator.pt").is_file():
            raise ModelError(f"{d}: not a saved feature-GAN model (feature_gan.json, generator.pt)")
        meta = json.loads((d / "feature_gan.json").read_text())
        obj = cls(FeatureGANConfig.from_dict(meta["config"]))
        obj.scaler, obj.classes = FeatureScaler.from_dict(meta["scaler"]), meta["classes"]
        obj.feature_names, obj.history = meta["feature_names"], meta["history"]
        g, _ = obj._networks(len(obj.feature_names))
        g.load_state_dict(load_tensors(d / "generator.pt"))
        obj.generator = g.eval()
        return obj
