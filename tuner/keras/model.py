"""Build and compile the Keras MLP that one set of parameters describes."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any

import keras
import numpy as np

from tuner.core.errors import StudyConfigError
from tuner.core.tasks import METRICS, Task
from tuner.data.containers import Data
from tuner.data.prepare import TargetScale
from tuner.data.preprocessing import InputScaling

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


def compile_options(
    batch_size: int, steps_per_execution: int | str, jit_compile: bool | str
) -> dict[str, Any]:
    """Resolve ``"auto"``: see ``docs/speed.md`` for the measurements behind it.

    On a CPU a small batch spends most of a step in per-step overhead, so
    several batches run per call (about 1,024 samples); XLA only where a GPU is.
    """
    if steps_per_execution == "auto":
        steps_per_execution = max(1, SAMPLES_PER_EXECUTION // batch_size)
    if jit_compile == "auto":
        jit_compile = has_gpu()
    return {"steps_per_execution": int(steps_per_execution), "jit_compile": bool(jit_compile)}


def metrics_of(task: Task) -> list[keras.metrics.Metric]:
    """What every trial logs besides its loss: the task's metric, and a regression's R²
    (``r2``: 1 is perfect, 0 is no better than predicting the mean)."""
    if task.kind == "regression":
        return [metric(task), keras.metrics.R2Score(name="r2")]
    return [metric(task)]


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
    here: batch-512 trials 1.3-1.5x faster, docs/speed.md) and needs no loss
    scaling: its exponent range is float32's.
    """
    if not mixed_precision:
        return None
    return "mixed_bfloat16" if mixed_precision == "bfloat16" else "mixed_float16"


def schedule_callbacks(
    params: Mapping[str, Any], objective: str, direction: str, patience: int
) -> list[keras.callbacks.Callback]:
    """Callbacks that change the rate on what training shows (``cosine`` follows the
    epochs, ``tuner.keras.horizon``).

    ``plateau``: Keras's ReduceLROnPlateau on the objective, halving the rate after
    ``max(1, patience - 1)`` epochs without progress, so it acts before EarlyStopping."""
    if params.get("lr_schedule", "constant") != "plateau":
        return []
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=objective,
            mode="max" if direction == "maximize" else "min",
            factor=0.5,
            patience=max(1, patience - 1),
            min_lr=1e-6,
        )
    ]


def make_optimizer(params: Mapping[str, Any], rate: float | object) -> keras.optimizers.Optimizer:
    """The named Keras optimizer; weight decay is decoupled (the optimizers' own), kernels only."""
    options: dict[str, Any] = {"learning_rate": rate}
    if params["optimizer"] == "sgd":
        options["momentum"] = params.get("momentum", 0.0)
    decay = params.get("weight_decay", 0.0)
    if decay:  # else each optimizer's own default: none, AdamW's 0.004
        options["weight_decay"] = decay
    optimizer = OPTIMIZER_CLASSES[params["optimizer"]](**options)
    if decay:
        optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return optimizer


def _hidden_layers(params: Mapping[str, Any], dtype: str | None) -> list[keras.layers.Layer]:
    """Per hidden layer: Dense, the normalization if any, the activation, dropout if any."""
    normalization = params.get("normalization", "none")
    initializer = params.get("kernel_initializer", "glorot_uniform")
    layers: list[keras.layers.Layer] = []
    for i in range(params["n_layers"]):
        if normalization == "none":
            layers.append(
                keras.layers.Dense(
                    params[f"units_{i}"],
                    kernel_initializer=initializer,
                    activation=params["activation"],
                    dtype=dtype,
                )
            )
        else:
            norm = (
                keras.layers.BatchNormalization
                if normalization == "batch"
                else keras.layers.LayerNormalization
            )
            layers += [
                keras.layers.Dense(
                    params[f"units_{i}"],
                    kernel_initializer=initializer,
                    use_bias=False,
                    dtype=dtype,
                ),
                norm(dtype=dtype),
                keras.layers.Activation(params["activation"], dtype=dtype),
            ]
        if params["dropout"] > 0:
            layers.append(keras.layers.Dropout(params["dropout"], dtype=dtype))
    return layers


def smoothed_task(task: Task, label_smoothing: float) -> Task:
    """The task a model with smoothed labels is compiled for.

    Keras's sparse cross-entropy takes no ``label_smoothing``, so a
    multiclass task with integer labels trains on one-hot targets instead
    (``targets_for``); the model and its outputs are the same.
    """
    if not label_smoothing:
        return task
    if task.kind == "regression":
        raise StudyConfigError(
            "space.label_smoothing: only for classification; leave it at 0 for a regression study"
        )
    if task.kind == "multiclass" and not task.one_hot:
        return dataclasses.replace(task, one_hot=True)
    return task


def targets_for(data: Data, task: Task, compiled: Task) -> Data:
    """``data`` with its labels as the compiled task expects them (one-hot if it says so)."""
    if compiled.one_hot == task.one_hot:
        return data
    eye = np.eye(task.n_outputs, dtype="float32")
    labels = {
        f: eye[np.asarray(getattr(data, f)).astype("int64").ravel()]
        for f in ("y_train", "y_val", "y_test")
        if getattr(data, f) is not None
    }
    return dataclasses.replace(data, **labels)


def target_layers(scale: TargetScale | None) -> list[keras.layers.Layer]:
    """The standardized output back in the target's units: ``y = z * std + mean``, then
    ``exp(y) - 1`` where the network learns the log."""
    if scale is None:
        return []
    layers = [
        keras.layers.Rescaling(
            scale=np.array(scale.std, dtype="float32"),
            offset=np.array(scale.mean, dtype="float32"),
            name="target_scale",
            dtype="float32",
        )
    ]
    if scale.log:
        layers += [
            keras.layers.Activation("exponential", name="target_exp", dtype="float32"),
            keras.layers.Rescaling(1.0, offset=-1.0, name="target_minus_one", dtype="float32"),
        ]
    return layers


def loss_weight(scale: TargetScale) -> float:
    """``TargetScale.loss_weight``: the standardized squared error per squared unit."""
    return scale.loss_weight


def loss_of(
    task: Task, label_smoothing: float, target_scale: TargetScale | None = None
) -> str | keras.losses.Loss:
    """The task's loss; Keras's own classes where labels are smoothed; the squared error
    of ``log1p`` where a regression learns the target's log."""
    if target_scale is not None and target_scale.log:
        return "mean_squared_logarithmic_error"
    if label_smoothing and task.kind in ("binary", "multilabel"):
        return keras.losses.BinaryCrossentropy(label_smoothing=label_smoothing)
    if label_smoothing:
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    return "categorical_crossentropy" if task.one_hot else OUTPUTS[task.kind][1]


SHIFT = 0.1  # augmentation: the largest translation, a share of the height and width


def augmentation_layers(
    augmentation: str, input_shape: tuple[int, ...]
) -> list[keras.layers.Layer]:
    """Keras's random image layers for ``augmentation`` (``names.AUGMENTATIONS``), active
    in training only: images of one channel (height, width) gain a channel axis first."""
    if augmentation == "none":
        return []
    if len(input_shape) not in (2, 3):
        raise StudyConfigError(
            f"space.augmentation: for images (height, width[, channels]); the inputs have "
            f"shape {input_shape}; leave augmentation at 'none'"
        )
    layers: list[keras.layers.Layer] = []
    if len(input_shape) == 2:
        layers.append(keras.layers.Reshape((*input_shape, 1)))
    layers.append(keras.layers.RandomTranslation(SHIFT, SHIFT, fill_mode="constant"))
    if augmentation == "shift_flip":
        layers.append(keras.layers.RandomFlip("horizontal"))
    return layers


def _layers(
    params: Mapping[str, Any],
    input_shape: tuple[int, ...],
    task: Task,
    scaling: InputScaling | None,
    hidden_dtype: str | None,
    target_scale: TargetScale | None,
) -> list[keras.layers.Layer]:
    """Input, preprocessing, Flatten for images, the hidden layers, the task's output
    (``ensemble_k`` heads averaged where it is above 1)."""
    layers: list[keras.layers.Layer] = [keras.Input(shape=input_shape)]
    if scaling:
        layers += scaling.layers(
            params.get("feature_scaling", "standard"), params.get("numeric_embedding", "none")
        )
    layers += augmentation_layers(params.get("augmentation", "none"), input_shape)
    if len(input_shape) > 1:
        layers.append(keras.layers.Flatten())
    heads = int(params.get("ensemble_k", 1))
    activation = OUTPUTS[task.kind][0]
    if heads == 1:
        layers += _hidden_layers(params, hidden_dtype)
        layers.append(keras.layers.Dense(task.n_outputs, activation=activation, dtype="float32"))
    else:
        width = int(keras.Sequential(list(layers)).output_shape[-1])
        layers += _shared_heads(params, heads, width, task.n_outputs, activation, hidden_dtype)
    return layers + target_layers(target_scale)


def _shared_heads(
    params: Mapping[str, Any],
    heads: int,
    width: int,
    outputs: int,
    activation: str,
    dtype: str | None,
) -> list[keras.layers.Layer]:
    """TabM-mini (Gorishniy et al., ICLR 2025) in built-in layers: the inputs (``width``
    features) copied ``heads`` times, each copy scaled by its own learned multipliers
    (``head_inputs``, starting uniform in ±1), the hidden layers shared by all copies, one
    output kernel per head with a bias they share (``heads_out``), and the heads'
    predictions averaged."""
    return [
        keras.layers.RepeatVector(heads),
        keras.layers.EinsumDense(
            "bkd,kd->bkd",
            output_shape=(heads, width),
            kernel_initializer=keras.initializers.RandomUniform(-1.0, 1.0),
            name="head_inputs",
        ),
        *_hidden_layers(params, dtype),
        keras.layers.EinsumDense(
            "bkh,kho->bko",
            output_shape=(heads, outputs),
            bias_axes="o",  # one bias per output, shared: a per-head one breaks TFLite
            activation=activation,
            dtype="float32",
            name="heads_out",
        ),
        keras.layers.GlobalAveragePooling1D(name="mean_of_heads"),
    ]


def build_model(
    params: Mapping[str, Any],
    input_shape: tuple[int, ...],
    task: Task,
    *,
    steps_per_execution: int = 1,
    jit_compile: bool = False,
    scaling: InputScaling | None = None,
    mixed_precision: bool | str = False,
    target_scale: TargetScale | None = None,
) -> keras.Sequential:
    """A ``Sequential`` of Dense layers: Flatten for images, output and loss by task.

    Mixed precision is set per layer, not as Keras's global policy, which every
    ``clear_session`` between trials resets: hidden layers compute in float16
    or bfloat16, the output layer in float32; float16's loss is scaled against
    underflow. The optimizer's rate is the trial's; a schedule sets it per
    epoch (``Recipe.fit``). ``target_scale`` (regression) ends the network
    with a ``Rescaling`` layer from the standardized target to its units, and
    weighs the loss so that it compares errors on the standardized scale
    (``target_layers``).

    The optimizer's variables are made here (Keras's ``Optimizer.build``),
    not inside the first train step: a ``tf.function`` that creates
    variables on its first call is traced twice (tensorflow/tensorflow#48851),
    and Keras defers them to that call when no distribution strategy is set.
    With Adam, a new synthetic model's first epoch takes half as long.
    """
    hidden_dtype = precision_policy(mixed_precision)
    model = keras.Sequential(
        _layers(params, input_shape, task, scaling, hidden_dtype, target_scale)
    )
    optimizer = make_optimizer(params, params["learning_rate"])
    if hidden_dtype == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss=loss_of(task, params.get("label_smoothing", 0.0), target_scale),
        loss_weights=None if target_scale is None else [loss_weight(target_scale)],
        metrics=metrics_of(task),
        steps_per_execution=steps_per_execution,
        jit_compile=jit_compile,
    )
    model.optimizer.build(model.trainable_variables)
    return model
