"""ganflow training core: readers, transformer, models, trainer, synthesizer, MLflow tracking.

``training`` never imports ``serving``, ``tuning`` or ``ganflow``.
"""

from training.config import DataConfig, TraceGANConfig
from training.errors import ConfigError, DataError, GanflowError, ModelError

__all__ = ["ConfigError", "DataConfig", "DataError", "GanflowError", "ModelError", "TraceGANConfig"]
