"""Plain Keras model builders. They know nothing of KerasTuner or plotting."""

from lab.models.classifier import build_code_classifier
from lab.models.conv import build_conv_autoencoder
from lab.models.dense import build_dense_autoencoder

__all__ = ["build_code_classifier", "build_conv_autoencoder", "build_dense_autoencoder"]
