"""data/baseline.py: what a model that ignores the inputs scores, as each objective."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import log_loss

from tuner.core.tasks import Task
from tuner.data.baseline import trivial_baseline
from tuner.data.containers import Data
from tuner.data.prepare import TargetScale


def classes(train: list[int], val: list[int]) -> Data:
    return Data(np.zeros((len(train), 2)), np.array(train), np.zeros((len(val), 2)), np.array(val))


def test_a_classifier_baseline_predicts_the_training_majority_with_the_training_shares():
    data = classes([0] * 8 + [1] * 2, [0] * 6 + [1] * 4)
    task = Task("binary", 1)
    names = ["stays", "leaves"]
    accuracy = trivial_baseline(data, task, "val_accuracy", names)
    assert accuracy.what == "the majority class 'stays'" and accuracy.value == 0.6
    assert trivial_baseline(data, task, "val_balanced_accuracy").value == 0.5
    assert trivial_baseline(data, task, "val_auc").value == 0.5
    assert trivial_baseline(data, task, "val_macro_f1").value == pytest.approx(0.375)
    loss = trivial_baseline(data, task, "val_loss").value
    assert loss == pytest.approx(log_loss([0] * 6 + [1] * 4, [[0.8, 0.2]] * 10))


def test_a_regressor_baseline_predicts_the_training_mean_in_the_trials_units():
    data = Data(
        np.zeros((4, 1)), np.array([1.0, 3.0, 5.0, 7.0]), np.zeros((2, 1)), np.array([2.0, 10.0])
    )
    task = Task("regression", 1)
    assert trivial_baseline(data, task, "val_mae").value == pytest.approx((2 + 6) / 2)
    scale = TargetScale(mean=(4.0,), std=(2**0.5,))  # loss weight 1/2
    weighted = trivial_baseline(data, task, "val_loss", loss=scale.loss).value
    assert weighted == pytest.approx(0.5 * (4 + 36) / 2)
    assert trivial_baseline(data, task, "val_loss").what == "the training mean"


def test_no_baseline_for_multi_label_tasks_or_training_objectives():
    data = classes([0, 1] * 5, [0, 1])
    assert trivial_baseline(data, Task("binary", 1), "accuracy") is None
    labels = Data(np.zeros((4, 1)), np.eye(4)[:, :2], np.zeros((2, 1)), np.eye(2))
    assert trivial_baseline(labels, Task("multilabel", 2), "val_accuracy") is None
