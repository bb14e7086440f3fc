"""Models-from-code entry point of the feature GAN's pyfunc model."""

import mlflow

from feature_gan.pipeline import FeatureGANModel

mlflow.models.set_model(FeatureGANModel())
