"""A trial's input pipelines: in-memory arrays as ``tf.data`` datasets.

Keras turns arrays given to ``fit`` into a pipeline of its own (index shuffling,
a parallel ``map`` of gathers) and starts it afresh every epoch, for training
and again for validation. On small data that start dominates an epoch: 800
synthetic rows took 0.06 s an epoch that way and 0.01-0.02 s as the datasets
below (docs/speed.md). Same meaning: the training rows are reshuffled every
epoch from a seed, validation is read in order.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import tensorflow as tf

Pipeline = Literal["dataset", "arrays"]
SMALL_DATA_BYTES = 1 << 20


def choose(setting: str, x_train: np.ndarray) -> Pipeline:
    """Resolve ``"auto"``: these datasets for training data up to 1 MiB, else Keras's own.

    On Fashion-MNIST (43 MB) the element-wise shuffle of 55,000 images cost
    more than it saved (a fit took 1.07-1.2x as long as with Keras's
    pipeline), so large data stays with Keras's gather-based pipeline.
    """
    if setting == "auto":
        return "dataset" if x_train.nbytes <= SMALL_DATA_BYTES else "arrays"
    return "dataset" if setting == "dataset" else "arrays"


def training_dataset(
    x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None
) -> tf.data.Dataset:
    """All rows, reshuffled every epoch (a full shuffle, as Keras's ``shuffle=True``)."""
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )


def evaluation_dataset(x: np.ndarray, y: np.ndarray, batch_size: int) -> tf.data.Dataset:
    """Rows in order, batched once and kept in memory across epochs."""
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).cache()
