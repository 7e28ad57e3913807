"""Targets: the task a label array implies, class names encoded, labels checked."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from tuner.core.errors import DataError
from tuner.core.tasks import Task, TaskKind

if TYPE_CHECKING:
    from tuner.data.containers import Data


def class_indices(y: np.ndarray, task: Task) -> np.ndarray:
    """A single-label classification target as one class index per row (one-hot rows by
    their largest column)."""
    y = np.asarray(y)
    return y.argmax(axis=1) if task.one_hot else y.ravel().astype("int64")


def encode_labels(data: Data) -> tuple[Data, list[str] | None]:
    """String class labels become 0..k-1 (sorted names); the names are kept for output."""
    if np.asarray(data.y_train).dtype.kind not in "OUS":
        return data, None
    names = sorted({str(v) for v in data.y_train})
    index = {name: i for i, name in enumerate(names)}
    encoded: dict[str, Any] = {}
    for split, field in (("train", "y_train"), ("validation", "y_val"), ("test", "y_test")):
        labels = getattr(data, field)
        if labels is None:
            continue
        unknown = sorted({str(v) for v in labels} - index.keys())
        if unknown:
            raise DataError(f"{split} split: class names {unknown[:3]} do not occur in training")
        encoded[field] = np.array([index[str(v)] for v in labels], dtype="int64")
    return dataclasses.replace(data, **encoded), names


def infer_task(y: np.ndarray, requested: TaskKind | None = None) -> Task:
    """The task a label array implies; ``requested`` overrides what is inferred.

    One column per output: 0/1 rows summing to 1 are one-hot classes, other
    0/1 rows are multi-label, anything else is multi-output regression.
    """
    y = np.asarray(y)
    if len(y) == 0:
        raise DataError("train split is empty: the data has no training rows; add rows")
    if y.ndim == 2 and y.shape[1] > 1:
        return _infer_wide(y, requested)
    y = y.ravel()
    if requested == "regression" or (requested is None and looks_continuous(y)):
        return Task("regression", 1)
    if not integral(y):
        raise DataError(f"task {requested!r}: labels must be whole numbers, received {y.dtype}")
    labels = np.unique(y)
    if labels.min() < 0:
        raise DataError(f"labels: expected class numbers from 0, received {labels.min()}")
    if requested == "binary" or (requested is None and set(labels.tolist()) <= {0, 1}):
        if not set(labels.tolist()) <= {0, 1}:
            raise DataError(f"task 'binary': labels must be 0 or 1, received {labels.tolist()}")
        return Task("binary", 1)
    return Task("multiclass", int(labels.max()) + 1)


def _infer_wide(y: np.ndarray, requested: TaskKind | None) -> Task:
    width = int(y.shape[1])
    binary = bool(np.isin(y, (0, 1)).all())
    if requested == "regression" or (requested is None and not binary):
        return Task("regression", width)
    if not binary:
        raise DataError(f"task {requested!r}: label columns must hold 0 or 1")
    one_hot = bool((y.sum(axis=1) == 1).all())
    if requested == "multilabel" or (requested is None and not one_hot):
        return Task("multilabel", width)
    if not one_hot:
        raise DataError("task 'multiclass': one-hot label rows must each hold exactly one 1")
    return Task("multiclass", width, one_hot=True)


QUANTITY_MIN_VALUES = 50  # fewer distinct whole numbers than this are always classes
QUANTITY_ROW_SHARE = 0.05


def looks_continuous(y: np.ndarray) -> bool:
    """Whether labels are a quantity (regression) rather than classes.

    Floats are a quantity unless they are all 0 or 1. Whole numbers are classes
    unless there are more than 50 distinct values and either more than 5 % of
    the rows hold distinct values or the values are sparse (the largest is over
    twice their count): prices and counts, not the 0..k-1 codes of 100 classes.
    """
    if np.issubdtype(y.dtype, np.floating):
        return not np.isin(y, (0.0, 1.0)).all()
    if not integral(y):
        return True
    values = np.unique(y)
    return len(values) > QUANTITY_MIN_VALUES and (
        len(values) > QUANTITY_ROW_SHARE * y.size or values.max() + 1 > 2 * len(values)
    )


def integral(y: np.ndarray) -> bool:
    if np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        return True
    return bool(np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))


def check(data: Data, task: Task) -> None:
    """Refuse data that would train wrongly rather than fail later, or silently."""
    feature_shape = np.shape(data.x_train)[1:]
    for name, (x, y) in data.splits().items():
        x, y = np.asarray(x), np.asarray(y)
        if len(x) == 0:
            raise DataError(f"{name} split is empty")
        if len(x) != len(y):
            raise DataError(f"{name} split: {len(x)} feature rows but {len(y)} labels")
        if x.shape[1:] != feature_shape:
            raise DataError(
                f"{name} split: feature shape {x.shape[1:]} differs from training {feature_shape}"
            )
        if not np.issubdtype(x.dtype, np.number):
            raise DataError(
                f"{name} split: features must be numbers, received {x.dtype}; "
                "give a table with strings as a DataFrame (tuner.Data.from_frame)"
            )
        if np.isinf(x).any():
            raise DataError(f"{name} split: features contain infinite values")
        if data.columns is None and np.isnan(x).any():
            raise DataError(
                f"{name} split: features contain NaN; give a table with gaps as a "
                "DataFrame (tuner.Data.from_frame), which fills them in the model"
            )
        _check_labels(name, y, task)


def _check_labels(name: str, y: np.ndarray, task: Task) -> None:
    wide = (
        task.kind == "multilabel"
        or task.one_hot
        or task.n_outputs > 1
        and (task.kind == "regression")
    )
    if wide and (y.ndim != 2 or y.shape[1] != task.n_outputs):
        raise DataError(
            f"{name} split: expected {task.n_outputs} label columns, received shape {y.shape[1:]}"
        )
    if task.kind == "regression":
        if not np.all(np.isfinite(y)):
            raise DataError(f"{name} split: targets contain NaN or infinite values")
        return
    if task.kind == "multilabel" or task.one_hot:
        if not np.isin(y, (0, 1)).all():
            raise DataError(f"{name} split: label columns must hold 0 or 1")
        return
    if not integral(y) or y.size and (y.min() < 0 or y.max() >= max(task.n_outputs, 2)):
        raise DataError(
            f"{name} split: expected class labels 0..{max(task.n_outputs, 2) - 1}, "
            f"received values from {y.min()} to {y.max()}; the target was read as classes "
            f"(task {task.kind!r}): for a quantity, set task='regression' on the study"
        )
