"""Build and compile the Keras MLP that one set of parameters describes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from tuner.data import Task
from tuner.study import METRICS

OPTIMIZER_CLASSES: dict[str, type[keras.optimizers.Optimizer]] = {
    "adam": keras.optimizers.Adam,
    "sgd": keras.optimizers.SGD,
    "rmsprop": keras.optimizers.RMSprop,
    "nadam": keras.optimizers.Nadam,
    "adamw": keras.optimizers.AdamW,
}
OUTPUTS: dict[str, tuple[str, str]] = {
    "multiclass": ("softmax", "sparse_categorical_crossentropy"),
    "binary": ("sigmoid", "binary_crossentropy"),
    "regression": ("linear", "mse"),
}


def build_model(
    params: Mapping[str, Any], input_shape: tuple[int, ...], task: Task
) -> keras.Sequential:
    """A ``Sequential`` of Dense layers: Flatten for images, output and loss by task."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape)]
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    for i in range(params["n_layers"]):
        layers.append(keras.layers.Dense(params[f"units_{i}"], activation=params["activation"]))
        if params["dropout"] > 0:
            layers.append(keras.layers.Dropout(params["dropout"]))
    activation, loss = OUTPUTS[task.kind]
    layers.append(keras.layers.Dense(task.n_outputs, activation=activation))
    model = keras.Sequential(layers)
    optimizer = OPTIMIZER_CLASSES[params["optimizer"]](learning_rate=params["learning_rate"])
    model.compile(optimizer=optimizer, loss=loss, metrics=[METRICS[task.kind]])
    return model
