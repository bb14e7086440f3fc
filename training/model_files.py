"""A logged MLflow model's files, fetched and read as data: no code from the artifact store runs.

``mlflow.pyfunc.load_model`` of a model logged from code executes the model's Python file (and
puts its code folder on ``sys.path``). ganflow's own loaders never do: they download the model
folder, read ``MLmodel`` with a safe YAML loader, check the ``ganflow_kind`` it was logged with,
and load JSON plus ``weights_only`` tensors from the artifact folder it names, refusing any path
that leaves the downloaded folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from training.errors import ModelError
from training.utils import inside

__all__ = ["ModelFiles", "fetch_model"]


@dataclass
class ModelFiles:
    uri: str
    root: Path
    kind: str | None
    flavors: dict

    def require_kind(self, *kinds: str) -> None:
        if self.kind not in kinds:
            found = f"a {self.kind} model" if self.kind else "not a ganflow model"
            raise ModelError(f"model {self.uri!r} is {found}; expected {' or '.join(kinds)}")

    def pyfunc_artifact(self, key: str) -> Path:
        """The local path of the pyfunc artifact ``key`` (inside the model folder, or an error)."""
        entry = self.flavors.get("python_function", {}).get("artifacts", {}).get(key)
        rel = entry.get("path") if isinstance(entry, dict) else None
        if not isinstance(rel, str):
            raise ModelError(f"model {self.uri!r} has no {key!r} artifact")
        return inside(self.root, rel)

    def flavor_file(self, flavor: str, field: str = "data") -> Path:
        rel = self.flavors.get(flavor, {}).get(field)
        if not isinstance(rel, str):
            raise ModelError(f"model {self.uri!r} has no {flavor} flavor")
        return inside(self.root, rel)


def fetch_model(uri: str) -> ModelFiles:
    """Download the model at ``uri`` (``models:/``, ``runs:/``, any artifact URI) and read its MLmodel."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    try:
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except (MlflowException, OSError, ValueError) as exc:
        msg = (getattr(exc, "message", None) or str(exc) or type(exc).__name__).splitlines()[0]
        raise ModelError(f"cannot load model {uri!r}: {msg}") from None
    mlmodel = root / "MLmodel"
    if not mlmodel.is_file():
        raise ModelError(f"model {uri!r}: no MLmodel file there; not an MLflow model")
    try:
        model = Model.load(str(mlmodel))
    except Exception as exc:  # noqa: BLE001 - any parse failure is a broken model file
        raise ModelError(f"model {uri!r}: cannot read its MLmodel ({type(exc).__name__}: {exc})") from None
    kind = (model.metadata or {}).get("ganflow_kind")
    return ModelFiles(uri, root, kind if isinstance(kind, str) else None, dict(model.flavors or {}))
