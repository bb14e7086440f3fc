"""Small shared helpers: seeding, device choice, hashing, atomic output."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from training.errors import ConfigError

__all__ = ["seed_everything", "resolve_device", "sha256_file", "atomic_output", "save_checkpoint"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) from one integer."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> str:
    """Map ``auto``/``cpu``/``cuda[:i]``/``mps`` to an available torch device string."""
    import torch

    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {name!r} requested but CUDA is not available")
    if name == "mps" and not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
        raise ConfigError("--device 'mps' requested but MPS is not available")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ConfigError(f"--device must be auto, cpu, cuda[:N] or mps, but got {name!r}")
    return name


def sha256_file(path: str | os.PathLike[str], *, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    A crash (or exception) leaves no partial file at ``path``: the temporary is removed.
    """
    target = Path(path)
    if target.exists() and not overwrite:
        raise ConfigError(f"{target}: output exists; pass --overwrite to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def save_checkpoint(state: dict, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` a state dict atomically (temporary name, then rename); returns the path.

    Keep ``state`` to tensors and plain Python values: checkpoints are loaded with
    ``torch.load(weights_only=True)``, which refuses anything else.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path
