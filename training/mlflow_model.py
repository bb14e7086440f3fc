"""The trace GAN as an MLflow pyfunc model, logged "from code" (no pickled Python objects).

The logged model holds the saved ``Synthesizer`` directory as an artifact and a copy of the
``training`` package as code, so ``mlflow.pyfunc.load_model`` and ``mlflow models serve
--env-manager local`` work wherever torch, numpy and mlflow are installed. Input: a frame with
``num_rows`` and optional ``seed``; output: integer rows ``timestamp, length, lba`` and, when the
model has them, ``latency`` and ``opcode`` (``R`` / ``W``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from training.config import ROW_COLUMNS
from training.synthesizer import Synthesizer

__all__ = ["TraceGANModel", "log_synthesizer", "load_logged_synthesizer", "signature", "pip_requirements",
           "MAX_ROWS_PER_REQUEST"]

MAX_ROWS_PER_REQUEST = 1_000_000
_ENTRY = Path(__file__).with_name("_pyfunc_entry.py")


def to_integer_rows(rows: np.ndarray) -> np.ndarray:
    """Real-unit float rows -> non-negative int64 (rounded): requests are whole ticks, bytes, sectors."""
    return np.rint(np.maximum(rows, 0.0)).astype(np.int64)


class TraceGANModel(mlflow.pyfunc.PythonModel):
    """Pyfunc wrapper: ``predict`` samples ``num_rows`` rows with ``seed``."""

    def load_context(self, context) -> None:
        self.synthesizer = Synthesizer.load(context.artifacts["synthesizer"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        frame = pd.DataFrame(model_input) if not isinstance(model_input, pd.DataFrame) else model_input
        out = []
        for record in frame.to_dict("records"):
            n = int(record["num_rows"])
            if not 0 <= n <= MAX_ROWS_PER_REQUEST:
                raise ValueError(f"num_rows must be in [0, {MAX_ROWS_PER_REQUEST}], but got {n}")
            seed = record.get("seed")
            seed = 0 if seed is None or pd.isna(seed) else int(seed)
            out.append(to_integer_rows(np.nan_to_num(self.synthesizer.sample(n, seed=seed))))
        rows = np.concatenate(out) if out else np.empty((0, len(ROW_COLUMNS)), np.int64)
        columns = self.synthesizer.columns
        frame = pd.DataFrame({c: rows[:, ROW_COLUMNS.index(c)] for c in columns})
        if "opcode" in frame:
            frame["opcode"] = np.where(frame["opcode"] == 1, "W", "R")
        return frame


def signature(columns: tuple[str, ...]):
    """The hand-written model signature (inference would need a sample call and is slower)."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("long", "num_rows"), ColSpec("long", "seed", required=False)])
    outputs = Schema([ColSpec("string" if c == "opcode" else "long", c) for c in columns])
    return ModelSignature(inputs=inputs, outputs=outputs)


def pip_requirements() -> list[str]:
    """Pinned to what runs now; inferring them costs 10+ seconds per log."""
    import torch

    return [f"mlflow=={mlflow.__version__}", f"torch=={torch.__version__.split('+')[0]}",
            f"numpy=={np.__version__}", f"pandas=={pd.__version__}"]


def log_synthesizer(synth: Synthesizer, saved_dir: str | Path, *, name: str = "model"):
    """Log ``saved_dir`` (a saved Synthesizer) as a pyfunc model in the active run."""
    with warnings.catch_warnings():  # "no input example": the signature is written by hand
        warnings.filterwarnings("ignore", message=".*input example.*")
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(_ENTRY), artifacts={"synthesizer": str(saved_dir)},
            code_paths=[str(Path(__file__).parent)], signature=signature(synth.columns),
            pip_requirements=pip_requirements(),
            metadata={"ganflow_kind": "trace-gan", "config": synth.config.to_dict()})


def load_logged_synthesizer(uri: str) -> Synthesizer:
    """The ``Synthesizer`` inside a logged trace-GAN model (``models:/…``, ``runs:/…``), read as
    data (JSON and weights-only tensors): no code from the artifact store is executed."""
    from training.model_files import fetch_model

    files = fetch_model(uri)
    files.require_kind("trace-gan")
    return Synthesizer.load(files.pyfunc_artifact("synthesizer"))
