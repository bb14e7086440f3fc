"""Small shared helpers: seeding, device choice, hashing, atomic output."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np

from training.errors import ConfigError, ModelError

__all__ = ["last_value", "seed_everything", "resolve_device", "sha256_file", "check_output", "atomic_output",
           "save_checkpoint", "temp_prefix", "sweep_stale_temps", "inside", "load_tensors"]


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


def _owner_tag() -> str:
    return f"ganflow-{socket.gethostname()}-"


def temp_prefix(target: Path) -> str:
    """Name prefix of this process's temporaries beside ``target``: ``.NAME.ganflow-HOST-PID-``."""
    return f".{target.name}.{_owner_tag()}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def sweep_stale_temps(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries beside ``target`` left by ganflow processes of this host that
    are gone (a SIGKILL skips every cleanup); live writers' temporaries are left alone."""
    target = Path(target)
    start = f".{target.name}.{_owner_tag()}"
    removed = []
    if not target.parent.is_dir():
        return removed
    for p in target.parent.iterdir():
        if not p.name.startswith(start):
            continue
        pid = p.name[len(start):].split("-", 1)[0]
        if not pid.isdigit() or _alive(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
            removed.append(p)
    return removed


def inside(root: str | os.PathLike[str], relative: str) -> Path:
    """``root / relative``, refusing a path (from an artifact, a model file) that escapes ``root``."""
    base = Path(root).resolve()
    path = (base / relative).resolve()
    if path != base and base not in path.parents:
        raise ModelError(f"{relative!r} escapes {base}; refusing to read outside the model's folder")
    return path


def check_output(path: str | os.PathLike[str], overwrite: bool) -> None:
    """The one output rule, checked before any work and again when writing: refuse to replace
    ``path`` without ``overwrite``, and refuse a place that cannot be written, so a job fails at
    once, not after an hour of training. An empty path is no output."""
    if not str(path):
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{path}: is a directory; give a file name")
    if target.exists() and not overwrite:
        raise ConfigError(f"{path}: output exists; pass --overwrite to replace it")
    blocker = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise ConfigError(f"{path}: {blocker} is a file, not a folder")
    existing = next(p for p in target.absolute().parents if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: {existing} is not writable")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], mode: str = "w", *, overwrite: bool = True) -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    An exception leaves no partial file at ``path``: the temporary is removed. A SIGKILL leaves
    only the temporary, which the next write of the same path removes (``sweep_stale_temps``).
    """
    target = Path(path)
    check_output(target, overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temps(target)
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(target), suffix=".tmp", dir=target.parent)
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


def load_tensors(path: str | os.PathLike[str], *, device: str = "cpu") -> dict:
    """``torch.load(weights_only=True)``: tensors and plain values only, never arbitrary pickled
    objects (whose loading could run code). Anything else is a one-line ``ModelError``."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ModelError(f"{path}: not a loadable weights file ({type(exc).__name__}: {first})") from None


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


def last_value(by_epoch: dict[int, float]) -> float | None:
    """The value of the latest epoch in ``{epoch: value}`` (None when empty)."""
    return by_epoch[max(by_epoch)] if by_epoch else None
