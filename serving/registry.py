"""Resolve a model URI to a ``Synthesizer`` and its lineage (registered name, version, run)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from training.errors import ModelError
from training.synthesizer import Synthesizer

__all__ = ["LoadedModel", "load_synthesizer", "load_any", "resolve_version"]

_MODELS_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+|latest))?$")


@dataclass
class LoadedModel:
    synthesizer: Synthesizer
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


def load_any(uri: str, *, device: str = "cpu", threads: int = 0) -> LoadedModel:
    """Like ``load_synthesizer``, but an ONNX model (a ``.onnx`` file, or an MLflow model with the
    onnx flavor) loads as an ``OnnxSynthesizer`` that runs on onnxruntime, without importing torch."""
    return _load(uri, device=device, onnx=True, threads=threads)


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
