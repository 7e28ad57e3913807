"""Objectives for imbalanced classes: balanced accuracy, macro F1 and ROC AUC."""

from __future__ import annotations

import math

import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tuner.keras.scores import class_scores


def test_the_scores_are_scikit_learns_for_binary_and_multiclass_outputs():
    binary = class_scores(np.array([0, 0, 0, 1]), np.array([[0.1], [0.2], [0.7], [0.9]]))
    # recall 2/3 on class 0 and 1/1 on class 1; the positive scores rank perfectly
    assert binary == pytest.approx(
        {"balanced_accuracy": (2 / 3 + 1) / 2, "macro_f1": (0.8 + 2 / 3) / 2, "auc": 1.0}
    )
    always_first = np.tile([0.8, 0.1, 0.1], (6, 1))  # accuracy 4/6, a rare class never predicted
    scores = class_scores(np.array([0, 0, 0, 0, 1, 2]), always_first)
    assert scores["balanced_accuracy"] == pytest.approx(1 / 3)
    assert scores["auc"] == pytest.approx(0.5)
    one_hot = class_scores(np.eye(3)[[0, 0, 0, 0, 1, 2]], always_first)
    assert one_hot == scores
    assert math.isnan(class_scores(np.array([0, 0]), np.array([[0.2], [0.4]]))["auc"])


IMBALANCED = """
import numpy as np
import tuner

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3)).astype("float32")
    y = (x[:, 0] + 0.3 * rng.normal(size=600) > 1.4).astype("int64")  # about 8 % positive
    return tuner.Data.split(x[:450], y[:450], validation=150, x_test=x[450:], y_test=y[450:],
                            stratify=True)

study = tuner.Study(data=data, objective="val_balanced_accuracy", class_weight="balanced",
                    space=tuner.Space(n_layers=1, units=8, learning_rate=0.02, batch_size=32,
                                      optimizer="adam", dropout=0.0, weight_decay=0.0,
                                      lr_schedule="constant", normalization="none",
                                      label_smoothing=0.0),
                    trials=1, max_epochs=6, portfolio=False)
"""


def test_a_study_can_optimise_balanced_accuracy_on_imbalanced_classes(study_file, cli, workdir):
    result = cli("run", study_file(body=IMBALANCED), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "val_balanced_accuracy" in result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("tiny")
    [trial] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    metrics = trial.data.metrics
    logged = client.get_metric_history(trial.info.run_id, "val_balanced_accuracy")
    assert len(logged) == metrics["epochs_trained"] >= 4
    assert 0.5 < metrics["final_val_balanced_accuracy"] <= 1
    assert {
        "final_val_macro_f1",
        "final_val_auc",
        "test_balanced_accuracy",
        "test_macro_f1",
        "test_auc",
    } <= set(metrics)
    assert trial.data.params["objective"] == "val_balanced_accuracy"
    [parent] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")
    assert parent.data.params["direction"] == "maximize"
