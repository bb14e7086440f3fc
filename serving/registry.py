"""Resolve a model URI to a ``Sampler`` on the engine asked for, and its lineage (registered name,
version, run).

A ``Sampler`` is what batch synthesis needs of a trace GAN; the torch ``Synthesizer`` and the
onnxruntime ``OnnxSynthesizer`` both are one, and say which they are in ``engine``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from training.config import TraceGANConfig
from training.errors import ConfigError, ModelError
from training.synthesizer import Synthesizer
from training.transform import TraceTransformer

__all__ = ["Sampler", "ENGINES", "LoadedModel", "load_synthesizer", "load_any", "resolve_version"]

ENGINES = ("auto", "onnx", "torch")


class Sampler(Protocol):
    """A trained trace GAN that writes rows: ``Synthesizer`` (torch) or ``OnnxSynthesizer``."""

    engine: str  # "torch" or "onnxruntime"
    config: TraceGANConfig
    transformer: TraceTransformer

    @property
    def columns(self) -> tuple[str, ...]: ...

    def sample_chunks(self, n_rows: int, *, seed: int = 0, first_block: int = 0, stream: int = 0,
                      t_start: float = 0.0, threads: int = 1) -> Iterator[np.ndarray]: ...

    def sample(self, n_rows: int, *, seed: int = 0, stream: int = 0) -> np.ndarray: ...

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+|latest))?$")


@dataclass
class LoadedModel:
    synthesizer: Sampler
    uri: str
    lineage: dict[str, str] = field(default_factory=dict)


def resolve_version(uri: str) -> dict[str, str]:
    """For ``models:/name@alias`` or ``models:/name/N``: name, version and source run id."""
    m = _MODELS_URI.match(uri)
    if not m or not (m["alias"] or m["version"]):
        return {}
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    try:
        if m["alias"]:
            mv = client.get_model_version_by_alias(m["name"], m["alias"])
        elif m["version"] == "latest":
            mv = max(client.search_model_versions(f"name='{m['name']}'"), key=lambda v: int(v.version))
        else:
            mv = client.get_model_version(m["name"], m["version"])
    except (MlflowException, ValueError) as exc:
        msg = getattr(exc, "message", str(exc)).splitlines()[0]
        raise ModelError(f"model {uri!r} not found: {msg}") from None
    return {"model_name": mv.name, "model_version": str(mv.version), "source_run_id": mv.run_id or ""}


def load_synthesizer(uri: str, *, device: str = "cpu") -> LoadedModel:
    """Load a trace GAN from a local saved-Synthesizer directory or any MLflow model URI."""
    return _load(uri, device=device, onnx=False)


def load_any(uri: str, *, device: str = "cpu", threads: int = 0, engine: str = "auto") -> LoadedModel:
    """Any trace-GAN model, on the engine asked for.

    ``auto``: an ONNX model (a ``.onnx`` file, or an MLflow model with the onnx flavor) runs on
    onnxruntime without importing torch, any other on torch; ``onnx``: a torch model is exported
    on the fly; ``torch``: an ONNX model is an error (its torch weights are not in it).
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, but got {engine!r}")
    loaded = _load(uri, device=device, onnx=True, threads=threads)
    if engine == "torch" and loaded.synthesizer.engine != "torch":
        raise ConfigError(f"--engine torch: {uri} is an ONNX model; use --engine onnx or auto")
    if engine == "onnx" and loaded.synthesizer.engine == "torch":
        from serving.onnx_export import OnnxSynthesizer, export_onnx

        loaded.synthesizer = OnnxSynthesizer(export_onnx(loaded.synthesizer), threads=threads)
    return loaded


def _load(uri: str, *, device: str, onnx: bool, threads: int = 0) -> LoadedModel:
    """Models are read as data (JSON, weights-only tensors, ONNX protobuf): see training.model_files."""
    from serving.onnx_export import OnnxSynthesizer
    from training.model_files import fetch_model
    from training.utils import resolve_device  # torch loads only for a torch model

    path = Path(uri)
    if onnx and uri.endswith(".onnx") and path.is_file():
        return LoadedModel(OnnxSynthesizer.from_file(uri, threads=threads), uri, {"local_path": str(path.resolve())})
    if path.is_dir() and (path / "config.json").is_file():
        return LoadedModel(Synthesizer.load(path, device=resolve_device(device)), uri, {"local_path": str(path.resolve())})
    if not (uri.startswith(("models:/", "runs:/")) or "://" in uri or (path / "MLmodel").is_file()):
        raise ModelError(f"model {uri!r}: not a saved synthesizer folder, an MLflow model folder, a .onnx file, "
                         "nor a models:/ or runs:/ URI")
    lineage = resolve_version(uri)
    files = fetch_model(uri)
    files.require_kind("trace-gan", *(["trace-gan-onnx"] if onnx else []))
    if files.kind == "trace-gan-onnx":
        return LoadedModel(OnnxSynthesizer.from_file(str(files.flavor_file("onnx")), threads=threads), uri, lineage)
    return LoadedModel(Synthesizer.load(files.pyfunc_artifact("synthesizer"), device=resolve_device(device)), uri, lineage)
