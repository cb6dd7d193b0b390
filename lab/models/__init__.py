"""Plain Keras model builders. They know nothing of KerasTuner or plotting."""

from lab.models.classifier import build_code_classifier
from lab.models.dense import build_dense_autoencoder

__all__ = ["build_code_classifier", "build_dense_autoencoder"]
