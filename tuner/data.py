"""The data a study trains on, its checks, and the task it implies.

A study's data callable returns a ``Data``: training, validation and
(optionally) test arrays. ``Data.split`` keeps the last rows of the training
set for validation, as the Keras tutorials do with Fashion-MNIST, or a
shuffled, stratified share of them; ``Data.from_frame`` and ``Data.from_csv``
take tabular data as pandas reads it (``tuner.frames``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from tuner.errors import DataError, StudyConfigError, first_line

if TYPE_CHECKING:
    import pandas as pd

    from tuner.frames import Columns

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

    columns: Columns | None = None  # a frame's feature columns (from_frame, from_csv)

    @classmethod
    def split(
        cls,
        x: np.ndarray,
        y: np.ndarray,
        *,
        validation: int | float,
        x_test: np.ndarray | None = None,
        y_test: np.ndarray | None = None,
        shuffle: bool = False,
        stratify: bool = False,
        seed: int = 0,
    ) -> Data:
        """``validation`` rows (a count, or a fraction < 1) of ``x`` for validation.

        By default the last rows, as the Keras tutorials split Fashion-MNIST;
        ``shuffle`` draws them at random from ``seed``, ``stratify`` also keeps
        each class's share (and implies ``shuffle``).
        """
        if not (shuffle or stratify):
            n_val = _count("validation", validation, len(x))
            return cls(x[:-n_val], y[:-n_val], x[-n_val:], y[-n_val:], x_test, y_test)
        train, val, _ = shuffled_split(len(x), y, validation=validation, test=0, seed=seed,
                                       stratify=stratify)
        return cls(x[train], y[train], x[val], y[val], x_test, y_test)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, target: str | Sequence[str], *,
                   validation: float = 0.2, test: float = 0.2, seed: int = 0,
                   stratify: bool = True) -> Data:
        """A DataFrame's rows, shuffled and split (stratified by class); see ``tuner.frames``.

        Numbers, strings, booleans and categoricals; missing cells allowed.
        """
        from tuner.frames import from_frame

        return from_frame(frame, target, validation=validation, test=test, seed=seed,
                          stratify=stratify)

    @classmethod
    def from_csv(cls, path: str | Path, target: str | Sequence[str], *,
                 validation: float = 0.2, test: float = 0.2, seed: int = 0,
                 stratify: bool = True) -> Data:
        """``from_frame`` on a CSV file with a header row."""
        from tuner.frames import from_csv

        return from_csv(path, target, validation=validation, test=test, seed=seed,
                        stratify=stratify)

    def splits(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """The splits present, by name."""
        named = {"train": (self.x_train, self.y_train), "validation": (self.x_val, self.y_val)}
        if self.x_test is not None and self.y_test is not None:
            named["test"] = (self.x_test, self.y_test)
        return named


def _count(name: str, share: int | float, n_rows: int) -> int:
    """Rows for a split given as a count, or as a fraction in (0, 1) of ``n_rows``."""
    count = int(round(n_rows * share)) if 0 < share < 1 else int(share)
    if isinstance(share, bool) or not 0 < count < n_rows:
        raise DataError(f"{name}: expected a count between 1 and {n_rows - 1} or a fraction "
                        f"in (0, 1), received {share!r}")
    return count


def shuffled_split(n_rows: int, y: np.ndarray, *, validation: int | float, test: int | float,
                   seed: int, stratify: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of training, validation and test (empty when ``test`` is 0), drawn at
    random from ``seed``; stratified by class where ``stratify`` and the labels are classes."""
    rows = np.arange(n_rows)
    n_test = _count("test", test, n_rows) if test else 0
    n_val = _count("validation", validation, n_rows)  # fractions are of all rows
    if n_rows - n_test - n_val < 1:
        raise DataError(f"validation and test leave no training rows of {n_rows}")
    labels = _strata(y) if stratify else None
    splits = [n for n in (n_test, n_val) if n]
    if labels is not None:
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) < 2:
            raise DataError(f"the target holds a single class ({classes[0].item()!r}); "
                            "a classifier needs rows of two or more")
        if counts.min() < len(splits) + 1:
            smallest = classes[counts.argmin()].item()
            raise DataError(f"class {smallest!r} has {counts.min()} rows, too few to stratify "
                            f"into {len(splits) + 1} splits; add rows of it, drop it, "
                            "or pass stratify=False")
    held_out = np.array([], dtype="int64")
    if n_test:
        rows, held_out = _draw(rows, n_test, labels, seed)
    train, val = _draw(rows, n_val, labels, seed + 1)
    return train, val, held_out


def _draw(rows: np.ndarray, n: int, labels: np.ndarray | None,
          seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    try:
        kept, drawn = train_test_split(rows, test_size=n, random_state=seed,
                                       stratify=None if labels is None else labels[rows])
    except ValueError as exc:  # a class too small for the share asked
        raise DataError(f"cannot stratify the split: {first_line(exc)}; "
                        "add rows, or pass stratify=False") from None
    return np.sort(kept), np.sort(drawn)


def _strata(y: np.ndarray) -> np.ndarray | None:
    """Class labels to stratify by: a single column of classes, else None (regression, wide)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        return None
    if y.dtype.kind in "OUSb":
        return np.array([str(v) for v in y])
    return None if _looks_continuous(y) else y


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
            raise DataError(f"{name} split: features must be numbers, received {x.dtype}; "
                            "give a table with strings as a DataFrame (tuner.Data.from_frame)")
        if np.isinf(x).any():
            raise DataError(f"{name} split: features contain infinite values")
        if data.columns is None and np.isnan(x).any():
            raise DataError(f"{name} split: features contain NaN; give a table with gaps as a "
                            "DataFrame (tuner.Data.from_frame), which fills them in the model")
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
