"""What both GAN trainers share about checkpoints: the file name, the cadence, and the state a
resume needs (weights, optimizer moments, random streams, epoch, history).

A checkpoint is ``checkpoint_epoch_<N>.pt``, written atomically and loaded with
``torch.load(weights_only=True)``, so it holds tensors and plain Python values only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.utils import load_tensors, save_checkpoint

__all__ = ["checkpoint_name", "checkpoint_epoch", "CheckpointCadence", "TrainerState"]

_CHECKPOINT = re.compile(r"^checkpoint_epoch_(\d{1,9})\.pt$")


def checkpoint_name(epoch: int) -> str:
    """The file name of epoch ``epoch``'s checkpoint."""
    return f"checkpoint_epoch_{int(epoch)}.pt"


def checkpoint_epoch(name: str) -> int | None:
    """N for a file named ``checkpoint_epoch_<N>.pt``, else None."""
    m = _CHECKPOINT.match(name)
    return int(m[1]) if m else None


@dataclass(frozen=True)
class CheckpointCadence:
    """Every ``every`` epochs (0: never) and after ``last_epoch``, into ``directory`` (None: nowhere);
    ``on_saved`` is told each path (e.g. to log it as an artifact)."""

    directory: str | Path | None
    every: int
    last_epoch: int
    on_saved: Callable[[Path], None] | None = None

    def due(self, epoch: int) -> bool:
        return self.directory is not None and (bool(self.every and epoch % self.every == 0) or epoch == self.last_epoch)

    def save(self, trainer: TrainerState, epoch: int) -> Path:
        path = trainer.save_checkpoint(Path(self.directory) / checkpoint_name(epoch))
        if self.on_saved is not None:
            self.on_saved(path)
        return path


class TrainerState:
    """``state_dict`` / ``load_state_dict`` / checkpoint files for a trainer that owns
    ``generator``, ``discriminator``, ``opt_g``, ``opt_d``, a ``torch.Generator`` ``rng``,
    ``epoch``, ``history`` (of ``epoch_type``, which has ``to_dict``) and ``device``. A trainer
    adds what only it has with ``_extra_state`` / ``_load_extra_state``."""

    epoch_type: type

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: weights, optimizer moments, random stream, history."""
        return {**self._extra_state(), "epoch": self.epoch, "generator": self.generator.state_dict(),
                "discriminator": self.discriminator.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "rng": self.rng.get_state(),
                "history": [h.to_dict() for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.rng.set_state(state["rng"].cpu())  # the CPU generator's state, whatever map_location moved it to
        self.epoch = int(state["epoch"])
        self.history = [self.epoch_type(**h) for h in state["history"]]
        self._load_extra_state(state)

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a checkpoint atomically and return its path."""
        return save_checkpoint(self.state_dict(), path)

    def load_checkpoint(self, path: str | Path) -> None:
        self.load_state_dict(load_tensors(path, device=str(self.device)))
