"""The data a study trains on, its checks, and the task it implies.

A study's data callable returns a ``Data``: training, validation and
(optionally) test arrays. ``Data.split`` keeps the last rows of the training
set for validation, as the Keras tutorials do with Fashion-MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from tuner.errors import DataError

TaskKind = Literal["multiclass", "binary", "regression"]
TASKS: tuple[TaskKind, ...] = ("multiclass", "binary", "regression")


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


def infer_task(y: np.ndarray, requested: TaskKind | None = None) -> Task:
    """The task a label array implies; ``requested`` overrides what is inferred."""
    y = np.asarray(y)
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
    if task.kind == "regression":
        if not np.all(np.isfinite(y)):
            raise DataError(f"{name} split: targets contain NaN or infinite values")
        return
    if not _integral(y) or y.size and (y.min() < 0 or y.max() >= max(task.n_outputs, 2)):
        raise DataError(
            f"{name} split: expected class labels 0..{max(task.n_outputs, 2) - 1}, "
            f"received values from {y.min()} to {y.max()}"
        )
