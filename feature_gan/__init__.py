"""ganflow's feature GAN: a conditional WGAN-GP over labelled feature vectors (13 MFCC means per
clip by default) that rebalances an imbalanced dataset.

``config`` (``FeatureGANConfig``, ``FeatureInput``, ``FeatureRunOptions``), ``data`` (JSON and
CSV tables), ``networks`` (generator, critic, gradient penalty, scaler), ``synthesizer``
(``GanTrainer``, ``FeatureSynthesizer``), ``pipeline`` (the tracked run, resume, registry),
``augment`` (``equal`` / ``upsample`` / ``custom`` balancing, ``GanAugmenter``) and
``evaluation`` (classifier utility against oversampling baselines). It imports only the shared
plumbing of ``training`` (errors, utils, tracking, checkpoints, model files), never ``serving``,
``tuning`` or ``ganflow``. The reference recipe's class names are importable from here.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["FeatureGANConfig", "GanGenerator", "GanDiscriminator", "GanTrainer", "FeatureSynthesizer", "GanAugmenter"]

_HOME = {"FeatureGANConfig": "feature_gan.config", "GanGenerator": "feature_gan.networks",
         "GanDiscriminator": "feature_gan.networks", "GanTrainer": "feature_gan.synthesizer",
         "FeatureSynthesizer": "feature_gan.synthesizer", "GanAugmenter": "feature_gan.augment"}


def __getattr__(name: str) -> Any:  # lazy: `ganflow --help` must not import torch
    if name in _HOME:
        return getattr(importlib.import_module(_HOME[name]), name)
    raise AttributeError(f"module 'feature_gan' has no attribute {name!r}")
