"""Build and compile the Keras MLP that one set of parameters describes."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import keras

from tuner.data import Task
from tuner.preprocessing import InputScaling
from tuner.study import METRICS

SAMPLES_PER_EXECUTION = 1024
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
    "multilabel": ("sigmoid", "binary_crossentropy"),
    "regression": ("linear", "mse"),
}


@functools.cache
def has_gpu() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_physical_devices("GPU"))


def compile_options(batch_size: int, steps_per_execution: int | str,
                    jit_compile: bool | str) -> dict[str, Any]:
    """Resolve ``"auto"``: see ``bench/README.md`` for the measurements behind it.

    On a CPU a small batch spends most of a step in per-step overhead, so
    several batches run per call (about 1,024 samples); XLA only where a GPU is.
    """
    if steps_per_execution == "auto":
        steps_per_execution = max(1, SAMPLES_PER_EXECUTION // batch_size)
    if jit_compile == "auto":
        jit_compile = has_gpu()
    return {"steps_per_execution": int(steps_per_execution), "jit_compile": bool(jit_compile)}


def metric(task: Task) -> keras.metrics.Metric:
    """The task's metric, named as the study's objectives expect (``accuracy``, ``mae``).

    Explicit, because Keras's ``"accuracy"`` is not per-label binary accuracy
    for several sigmoid outputs.
    """
    name = METRICS[task.kind]
    if task.kind == "regression":
        return keras.metrics.MeanAbsoluteError(name=name)
    if task.kind in ("binary", "multilabel"):
        return keras.metrics.BinaryAccuracy(name=name)
    if task.one_hot:
        return keras.metrics.CategoricalAccuracy(name=name)
    return keras.metrics.SparseCategoricalAccuracy(name=name)


def precision_policy(mixed_precision: bool | str) -> str | None:
    """The hidden layers' Keras dtype policy; None keeps float32.

    float16 is for GPUs. bfloat16 suits CPUs with AVX512_BF16 or AMX (measured
    here: batch-512 trials 1.3-1.5x faster, bench/README.md) and needs no loss
    scaling: its exponent range is float32's.
    """
    if not mixed_precision:
        return None
    return "mixed_bfloat16" if mixed_precision == "bfloat16" else "mixed_float16"


def build_model(
    params: Mapping[str, Any], input_shape: tuple[int, ...], task: Task,
    *, steps_per_execution: int = 1, jit_compile: bool = False,
    scaling: InputScaling | None = None, mixed_precision: bool | str = False,
) -> keras.Sequential:
    """A ``Sequential`` of Dense layers: Flatten for images, output and loss by task.

    Mixed precision is set per layer, not as Keras's global policy, which every
    ``clear_session`` between trials resets: hidden layers compute in float16
    or bfloat16, the output layer in float32; float16's loss is scaled against
    underflow.

    The optimizer's variables are made here (Keras's ``Optimizer.build``),
    not inside the first train step: a ``tf.function`` that creates
    variables on its first call is traced twice (tensorflow/tensorflow#48851),
    and Keras defers them to that call when no distribution strategy is set.
    With Adam, a new synthetic model's first epoch took 0.70 s instead of
    1.40 s here, the same losses (bench/first_epoch.py); plain SGD has no
    variables to make.
    """
    hidden_dtype = precision_policy(mixed_precision)
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape)]
    layers += scaling.layers() if scaling else []
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    for i in range(params["n_layers"]):
        layers.append(keras.layers.Dense(params[f"units_{i}"], activation=params["activation"],
                                         dtype=hidden_dtype))
        if params["dropout"] > 0:
            layers.append(keras.layers.Dropout(params["dropout"], dtype=hidden_dtype))
    activation, loss = OUTPUTS[task.kind]
    if task.one_hot:
        loss = "categorical_crossentropy"
    layers.append(keras.layers.Dense(task.n_outputs, activation=activation, dtype="float32"))
    model = keras.Sequential(layers)
    optimizer = OPTIMIZER_CLASSES[params["optimizer"]](learning_rate=params["learning_rate"])
    if hidden_dtype == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric(task)],
                  steps_per_execution=steps_per_execution, jit_compile=jit_compile)
    model.optimizer.build(model.trainable_variables)
    return model
