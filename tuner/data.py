"""The data a study trains on, its checks, and the task it implies.

A study's data callable returns a ``Data``: training, validation and
(optionally) test arrays. ``Data.split`` keeps the last rows of the training
set for validation, as the Keras tutorials do with Fashion-MNIST.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuner.errors import DataError, StudyConfigError

TaskKind = Literal["multiclass", "binary", "multilabel", "regression"]
TASKS: tuple[TaskKind, ...] = ("multiclass", "binary", "multilabel", "regression")


@dataclass(frozen=True)
class Data:
    """Training, validation and optional test arrays."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None

    @classmethod
    def split(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: int | float,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
    ) -> Data:
        """Keep the last ``validation`` rows (a count, or a fraction < 1) for validation."""
        n_val = int(round(len(x) * validation)) if 0 < validation < 1 else int(validation)
        if not 0 < n_val < len(x):
            raise DataError(
                f"validation: expected a count between 1 and {len(x) - 1} or a fraction in (0, 1), "
                f"received {validation!r}"
            )
        return cls(x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:], x_test, y_test)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The splits present, by name."""
        named = {"train": (self.x_train, self.y_train), "validation": (self.x_val, self.y_val)}
        if self.x_test is not None and self.y_test is not None:
            named["test"] = (self.x_test, self.y_test)
        return named


@dataclass(frozen=True)
class Task:
    """What the network predicts: the output layer and loss follow from it."""

    kind: TaskKind
    n_outputs: int
    one_hot: bool = False


def encode_labels(data: Data) -> tuple[Data, list[str] | None]:
    """String class labels become 0..k-1 (sorted names); the names are kept for output."""
    if np.asarray(data.y_train).dtype.kind not in "OUS":
        return data, None
    names = sorted({str(v) for v in data.y_train})
    index = {name: i for i, name in enumerate(names)}
    encoded = {}
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
    if y.ndim == 2 and y.shape[1] > 1:
        return _infer_wide(y, requested)
    y = y.ravel()
    if requested == "regression" or (requested is None and _looks_continuous(y)):
        return Task("regression", 1 if y.ndim == 1 else int(y.shape[1]))
    if not _integral(y):
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


def _looks_continuous(y: np.ndarray) -> bool:
    """Float labels are targets unless they are all 0 or 1; integer labels are classes."""
    if np.issubdtype(y.dtype, np.floating):
        return not np.isin(y, (0.0, 1.0)).all()
    return not _integral(y)


def _integral(y: np.ndarray) -> bool:
    if np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.bool_):
        return True
    return bool(np.issubdtype(y.dtype, np.floating) and np.all(np.mod(y, 1) == 0))


def check(data: Data, task: Task) -> None:
    """Refuse data that would train wrongly rather than fail later, or silently."""
    if not isinstance(data, Data):
        raise DataError(f"the data callable must return tuner.Data, received {type(data).__name__}")
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
            raise DataError(f"{name} split: features must be numbers, received {x.dtype}")
        if not np.all(np.isfinite(x)):
            raise DataError(f"{name} split: features contain NaN or infinite values")
        _check_labels(name, y, task)


def _check_labels(name: str, y: np.ndarray, task: Task) -> None:
    wide = task.kind == "multilabel" or task.one_hot or task.n_outputs > 1 and (
        task.kind == "regression")
    if wide and (y.ndim != 2 or y.shape[1] != task.n_outputs):
        raise DataError(f"{name} split: expected {task.n_outputs} label columns, "
                        f"received shape {y.shape[1:]}")
    if task.kind == "regression":
        if not np.all(np.isfinite(y)):
            raise DataError(f"{name} split: targets contain NaN or infinite values")
        return
    if task.kind == "multilabel" or task.one_hot:
        if not np.isin(y, (0, 1)).all():
            raise DataError(f"{name} split: label columns must hold 0 or 1")
        return
    if not _integral(y) or y.size and (y.min() < 0 or y.max() >= max(task.n_outputs, 2)):
        raise DataError(
            f"{name} split: expected class labels 0..{max(task.n_outputs, 2) - 1}, "
            f"received values from {y.min()} to {y.max()}"
        )


def smoothed_task(task: Task, label_smoothing: float) -> Task:
    """The task a model with smoothed labels is compiled for.

    Keras's sparse cross-entropy takes no ``label_smoothing``, so a
    multiclass task with integer labels trains on one-hot targets instead
    (``targets_for``); the model and its outputs are the same.
    """
    if not label_smoothing:
        return task
    if task.kind == "regression":
        raise StudyConfigError("space.label_smoothing: only for classification; "
                               "leave it at 0 for a regression study")
    if task.kind == "multiclass" and not task.one_hot:
        return dataclasses.replace(task, one_hot=True)
    return task


def targets_for(data: Data, task: Task, compiled: Task) -> Data:
    """``data`` with its labels as the compiled task expects them (one-hot if it says so)."""
    if compiled.one_hot == task.one_hot:
        return data
    eye = np.eye(task.n_outputs, dtype="float32")
    labels = {f: eye[np.asarray(getattr(data, f)).astype("int64").ravel()]
              for f in ("y_train", "y_val", "y_test") if getattr(data, f) is not None}
    return dataclasses.replace(data, **labels)
