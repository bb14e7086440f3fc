"""Models-from-code entry point: MLflow executes this file to build the pyfunc model."""

import mlflow

from training.mlflow_model import TraceGANModel

mlflow.models.set_model(TraceGANModel())
