"""The trivial baseline: what a model that ignores the inputs scores on validation.

A classifier that always predicts the training split's majority class (with
the training class shares as its probabilities), a regressor that always
predicts the training mean: scikit-learn's ``DummyClassifier`` and
``DummyRegressor``, scored as the study's objective. A best trial no better
than this learned nothing from the inputs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.data.targets import class_indices


@dataclass(frozen=True)
class Trivial:
    """The baseline's ``value`` of the objective on validation; ``what`` names it."""

    what: str
    value: float


def trivial_baseline(
    data: Data,
    task: Task,
    objective: str,
    class_names: Sequence[str] | None = None,
    loss: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> Trivial | None:
    """The trivial model's validation score of ``objective`` (``val_<metric>``); None for
    a multi-label task or an objective on the training split. ``loss`` scores a
    regression's outputs as the trials' ``val_loss`` does (``TargetScale.loss``; default:
    the squared error)."""
    if task.kind == "multilabel" or not objective.startswith("val_"):
        return None
    metric = objective.removeprefix("val_")
    if task.kind == "regression":
        return _regression(data, metric, loss)
    return _classification(data, task, metric, class_names)


def _regression(
    data: Data, metric: str, loss: Callable[[np.ndarray, np.ndarray], float] | None
) -> Trivial | None:
    from sklearn.dummy import DummyRegressor
    from sklearn.metrics import mean_absolute_error, mean_squared_error

    y_train, y_val = _columns(data.y_train), _columns(data.y_val)
    predicted = DummyRegressor(strategy="mean").fit(np.zeros((len(y_train), 1)), y_train)
    guess = predicted.predict(np.zeros((len(y_val), 1))).reshape(y_val.shape)
    scorers = {
        "loss": lambda: (loss or mean_squared_error)(y_val, guess),
        "mae": lambda: mean_absolute_error(y_val, guess),
    }
    if metric not in scorers:
        return None
    return Trivial("the training mean", float(scorers[metric]()))


def _classification(
    data: Data, task: Task, metric: str, class_names: Sequence[str] | None
) -> Trivial | None:
    from sklearn import metrics
    from sklearn.dummy import DummyClassifier

    y_train, y_val = class_indices(data.y_train, task), class_indices(data.y_val, task)
    dummy = DummyClassifier(strategy="prior").fit(np.zeros((len(y_train), 1)), y_train)
    rows = np.zeros((len(y_val), 1))
    predicted, probabilities = dummy.predict(rows), dummy.predict_proba(rows)
    labels = list(dummy.classes_)
    scorers = {
        "accuracy": lambda: metrics.accuracy_score(y_val, predicted),
        "balanced_accuracy": lambda: metrics.balanced_accuracy_score(y_val, predicted),
        "macro_f1": lambda: metrics.f1_score(y_val, predicted, average="macro", zero_division=0),
        "auc": lambda: 0.5,  # constant scores rank no row above another
        "loss": lambda: metrics.log_loss(y_val, probabilities, labels=labels),
    }
    if metric not in scorers:
        return None
    majority = int(predicted[0]) if len(predicted) else 0
    name = class_names[majority] if class_names and majority < len(class_names) else majority
    return Trivial(f"the majority class {name!r}", float(scorers[metric]()))


def _columns(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype="float64")
    return y.reshape(len(y), -1)
