"""The ``export`` job: a registered (or local) trace GAN -> checked ONNX model -> MLflow -> registry."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np

from serving.onnx_export import PARITY_ATOL, OnnxSynthesizer, export_onnx
from serving.registry import load_synthesizer
from training.errors import ModelError
from training.tracking import lineage_tags, register_model, source_keys, tracked_run
from training.utils import check_output

__all__ = ["ExportResult", "export_model", "check_parity"]

log = logging.getLogger(__name__)


@dataclass
class ExportResult:
    run_id: str
    model_uri: str
    parity: float
    registered_name: str | None = None
    registered_version: str | None = None
    alias: str | None = None


def check_parity(synth, onnx_synth: OnnxSynthesizer, *, rows: int = 5000, seed: int = 0) -> float:
    """Max |torch - onnx| over ``rows`` rows from the same noise, as a fraction of each column's span."""
    a, b = synth.sample(rows, seed=seed), onnx_synth.sample(rows, seed=seed)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        raise ModelError("ONNX export and torch disagree on which columns the model generates")
    a, b = np.nan_to_num(a), np.nan_to_num(b)
    span = np.ptp(a, axis=0)
    err = float(np.max(np.abs(a - b) / np.where(span > 0, span, 1.0)))
    if not err <= PARITY_ATOL:
        raise ModelError(f"ONNX export differs from torch by {err:.3g} of a column span (tolerance {PARITY_ATOL})")
    return err


def _signature():
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    return ModelSignature(inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, -1, -1), "noise")]),
                          outputs=Schema([TensorSpec(np.dtype(np.float64), (-1, -1, -1), "rows")]))


def export_model(source_uri: str, *, register_as: str | None = None, output: str | Path | None = None,
                 experiment: str = "trace-gan-export", overwrite: bool = True) -> ExportResult:
    """Export ``source_uri`` to ONNX, check parity, log it with ``mlflow.onnx``, register it.

    The registered name defaults to ``<source name>-onnx`` for a ``models:/`` source; the new
    version is tagged with the source's name, version and run, and gets the source URI's alias.
    """
    if output is not None:
        check_output(output, overwrite)
    loaded = load_synthesizer(source_uri)
    model = export_onnx(loaded.synthesizer, output)
    parity = check_parity(loaded.synthesizer, OnnxSynthesizer(model))
    source_name = loaded.lineage.get("model_name")
    name = register_as or (f"{source_name}-onnx" if source_name else None)
    label = f"{source_name}-v{loaded.lineage['model_version']}" if source_name and loaded.lineage.get("model_version") \
        else (source_name or Path(source_uri).name)
    description = (f"ONNX export of {source_uri}: generator and inverse scaling in one graph; largest difference "
                   f"from torch {parity:.3g} of a column's span.")
    with tracked_run(experiment=experiment, run_name=f"export-{label}", tags=lineage_tags(),
                     description=description) as run:
        mlflow.log_params({"source_uri": source_uri, **source_keys(loaded.lineage)})
        mlflow.log_metric("parity_max_span_fraction", parity)
        info = mlflow.onnx.log_model(model, name="model", save_as_external_data=False,
                                     onnx_execution_providers=["CPUExecutionProvider"], signature=_signature(),
                                     metadata={"ganflow_kind": "trace-gan-onnx", "source_uri": source_uri})
        result = ExportResult(run.info.run_id, info.model_uri, parity)
        if name:
            alias = source_uri.split("@", 1)[1] if "@" in source_uri else ""
            tags = {"source_uri": source_uri, "parity": f"{parity:.3g}",
                    **source_keys(loaded.lineage)}
            version, alias = register_model(
                info.model_uri, name, tags=tags, alias=alias, description=description,
                model_description=f"ONNX exports of {source_name or 'trace GAN'} generators (onnxruntime, no torch "
                                  "needed): noise in, trace rows in real units out; ganflow generate samples them.")
            result.registered_name, result.registered_version, result.alias = name, version.version, alias or None
    log.info("exported %s -> %s (parity %.3g)", source_uri, result.model_uri, parity)
    return result
