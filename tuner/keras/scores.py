"""Class scores that Keras does not log: balanced accuracy, macro F1 and ROC AUC.

A study whose objective is one of them (``val_balanced_accuracy``,
``val_macro_f1``, ``val_auc``) gets ``ValidationScores``: after each epoch it
predicts the validation split once and adds all three, scikit-learn's own,
to the epoch logs, where EarlyStopping, the pruner and the MLflow logger read
them as they read ``val_accuracy``. Imbalanced classes are where they matter:
accuracy can look fine while a rare class is never predicted.
"""

from __future__ import annotations

import math
import warnings

import keras
import numpy as np

from tuner.core.tasks import CLASS_SCORES


def class_scores(y: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """Balanced accuracy, macro F1 and ROC AUC (one-vs-rest for several classes) of
    ``outputs`` (probabilities: one column for binary, one per class) against labels
    ``y`` (or one-hot rows). AUC is NaN where a split lacks a class."""
    from sklearn.metrics import (  # only for studies that ask: it costs a second to import
        balanced_accuracy_score,
        f1_score,
        roc_auc_score,
    )

    labels = (
        np.asarray(y).argmax(axis=1)
        if np.ndim(y) == 2 and np.shape(y)[1] > 1
        else np.asarray(y).ravel().astype("int64")
    )
    outputs = np.asarray(outputs, dtype="float64")
    if outputs.shape[1] == 1:
        predicted, ranked = (outputs[:, 0] > 0.5).astype("int64"), outputs[:, 0]
    else:
        predicted, ranked = outputs.argmax(axis=1), outputs / outputs.sum(axis=1, keepdims=True)
    with warnings.catch_warnings():  # a class absent from these rows: said by the NaN
        warnings.simplefilter("ignore")
        try:
            auc = float(
                roc_auc_score(
                    labels,
                    ranked,
                    multi_class="ovr",
                    labels=None if ranked.ndim == 1 else range(ranked.shape[1]),
                )
            )
        except ValueError:
            auc = math.nan
        return {
            "balanced_accuracy": float(balanced_accuracy_score(labels, predicted)),
            "macro_f1": float(f1_score(labels, predicted, average="macro")),
            "auc": auc,
        }


class ValidationScores(keras.callbacks.Callback):
    """Adds ``val_<score>`` for each of ``CLASS_SCORES`` to the epoch logs."""

    def __init__(self, x_val: np.ndarray, y_val: np.ndarray, batch_size: int) -> None:
        super().__init__()
        self.x_val, self.y_val, self.batch_size = x_val, y_val, batch_size

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        if logs is None:
            return
        outputs = self.model.predict(self.x_val, batch_size=self.batch_size, verbose=0)
        scores = class_scores(self.y_val, outputs)
        logs.update({f"val_{name}": scores[name] for name in CLASS_SCORES})
