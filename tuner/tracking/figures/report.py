"""What a finished trial shows beyond numbers: figures and a classification report."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skmetrics

from tuner.core.tasks import Task
from tuner.data.containers import Data
from tuner.tracking.figures import charts as figures

if TYPE_CHECKING:  # at run time only ``collect`` needs Keras: ``render`` runs without it
    import keras

SAMPLE_ROWS = 5


@dataclass
class TrialReport:
    """Figures and JSON documents, keyed by artifact file name."""

    figures: dict[str, Figure] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReportInputs:
    """What a trial's figures need, taken while its model is at hand (predictions).

    Of the inputs only a few rows are kept (``x_sample``: they give the logged
    model its signature), so the figures process is sent labels and outputs only.
    """

    task: Task
    history: Mapping[str, Sequence[float]]
    best_epoch: int
    split: str
    x_sample: np.ndarray
    y_true: np.ndarray
    y_pred: np.ndarray
    class_names: Sequence[str] | None


def collect(
    model: keras.Model,
    data: Data,
    task: Task,
    history: Mapping[str, Sequence[float]],
    best_epoch: int,
    class_names: Sequence[str] | None,
    test_outputs: np.ndarray | None = None,
) -> ReportInputs:
    """The report's split, and the model's outputs on it: ``test_outputs`` (the
    test split's, computed with its metrics) where that is the split."""
    from tuner.keras.training import predict

    split, (x, y) = _report_split(data)
    outputs = test_outputs if split == "test" and test_outputs is not None else predict(model, x)
    return ReportInputs(
        task,
        dict(history),
        best_epoch,
        split,
        np.asarray(x[:SAMPLE_ROWS]),
        np.asarray(y),
        outputs,
        class_names,
    )


def render(inputs: ReportInputs) -> TrialReport:
    """Learning curves, then ``outcome_report``'s figures and documents.

    Needs no model, so it can run off the training thread.
    """
    report = outcome_report(
        inputs.task, inputs.y_true, inputs.y_pred, inputs.split, inputs.class_names
    )
    report.figures = {
        "learning_curves.png": figures.learning_curves(inputs.history, inputs.best_epoch),
        **report.figures,
    }
    return report


def outcome_report(
    task: Task, y: np.ndarray, y_pred: np.ndarray, split: str, class_names: Sequence[str] | None
) -> TrialReport:
    """A confusion matrix and classification report, a report per label (multi-label),
    or a predicted-vs-true plot (regression), of ``y_pred`` on ``split``."""
    report = TrialReport()
    if task.kind == "regression":
        report.figures["predicted_vs_true.png"] = figures.predicted_vs_true(
            y.ravel(), y_pred.ravel(), split
        )
        return report
    labels = list(range(max(task.n_outputs, 2)))
    names = [str(n) for n in class_names] if class_names else [str(i) for i in labels]
    if task.kind == "multilabel":  # a report per label; a confusion matrix would mislead
        report.documents["classification_report.json"] = skmetrics.classification_report(
            y,
            (y_pred > 0.5).astype(int),
            target_names=names[: task.n_outputs],
            output_dict=True,
            zero_division=0,
        )
        return report
    truth = y.argmax(1) if task.one_hot else y.ravel()
    predicted = (y_pred[:, 0] > 0.5).astype(int) if task.kind == "binary" else y_pred.argmax(1)
    matrix = skmetrics.confusion_matrix(truth, predicted, labels=labels)
    report.figures["confusion_matrix.png"] = figures.confusion_matrix(matrix, names, split)
    report.documents["classification_report.json"] = skmetrics.classification_report(
        truth, predicted, labels=labels, target_names=names, output_dict=True, zero_division=0
    )
    return report


def _report_split(data: Data) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
    """The test split when the study has one, else validation."""
    splits = data.splits()
    return ("test", splits["test"]) if "test" in splits else ("validation", splits["validation"])
