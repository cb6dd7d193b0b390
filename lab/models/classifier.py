"""A small classifier whose body is a dense encoder, pretrained or fresh."""

from __future__ import annotations

from lab._backend import keras


def build_code_classifier(
    encoder: keras.Model,
    n_classes: int,
    *,
    pretrained: bool = True,
    freeze_encoder: bool = False,
    learning_rate: float = 1e-3,
) -> keras.Model:
    """Put a softmax layer on a copy of `encoder`, compiled for integer labels.

    Args:
        encoder: a trained encoder (for example `autoencoder.encoder`). It is
            copied, never modified.
        n_classes: number of classes.
        pretrained: start from the encoder's trained weights (fine-tuning); with
            False the same architecture starts from fresh random weights, the
            baseline that shows what pretraining bought.
        freeze_encoder: train only the softmax layer (the first phase of
            fine-tuning); `unfreeze` starts the second.
        learning_rate: Adam's step size; fine-tuning usually wants a small one.

    Returns:
        The compiled classifier, reporting accuracy.
    """
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}")
    body = keras.models.clone_model(encoder)
    if pretrained:
        body.set_weights(encoder.get_weights())
    body.trainable = not freeze_encoder
    inputs = keras.Input(shape=encoder.input_shape[1:], name="image")
    outputs = keras.layers.Dense(n_classes, activation="softmax", name="class")(body(inputs))
    model = keras.Model(inputs, outputs, name="code_classifier")
    _compile(model, learning_rate)
    return model


def unfreeze(classifier: keras.Model, *, learning_rate: float = 1e-4) -> keras.Model:
    """Make the encoder trainable again and recompile with a (small) learning rate."""
    classifier.get_layer(index=1).trainable = True
    _compile(classifier, learning_rate)
    return classifier


def _compile(model: keras.Model, learning_rate: float) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
