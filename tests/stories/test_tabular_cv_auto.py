"""Categorical columns in the model, k-fold cross-validation, learning_rate="auto"."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

from tuner.datasets import customers

CHURN = """
import tuner
from tuner.datasets import customers

study = tuner.Study(
    data=lambda: customers(n=900),
    categorical={categorical},
    space=tuner.Space(n_layers=0, learning_rate=0.05, batch_size=32, optimizer="adam",
                      numeric_embedding="none", ensemble_k=1),  # plain numbers: linear in codes
    max_epochs=40, patience=5,
)
"""

TINY_CV = """
import optuna
import tuner
from tuner.datasets import synthetic

study = tuner.Study(
    data=lambda: synthetic(n=300),
    cv=3,
    space=tuner.Space(n_layers=1, units=tuner.Int(4, 16), learning_rate=0.05, batch_size=32,
                      optimizer="adam"),
    max_epochs=4, patience=2, {extra}
)
"""


def trial_runs(workdir, name="tiny"):
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(name)
    return client, client.search_runs(
        [experiment.experiment_id],
        "tags.`tuner.role` = 'trial'",
        order_by=["attributes.start_time"],
    )


def logged_model(run):
    [model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        output_format="list",
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    return model.model_uri


def test_categorical_columns_are_one_hot_inside_the_promotable_model(cli, study_file, workdir):
    path = study_file(body=CHURN.format(categorical="[2, 3]"))
    assert cli("run", path, "--trials", "1", "--no-progress").exit_code == 0
    client, [run] = trial_runs(workdir)
    assert (
        client.get_run(run.data.tags["mlflow.parentRunId"]).data.params["preprocessing"]
        == "normalize + category columns [2, 3]"
    )
    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    model = mlflow.keras.load_model(logged_model(run))
    encoder = model.layers[0]
    lookups = {
        layer.name: layer for layer in encoder.layers if type(layer).__name__ == "IntegerLookup"
    }
    data = customers(n=900)
    # Vocabularies are the training split's codes; index 0 is the out-of-vocabulary slot.
    assert lookups["one_hot_2"].get_vocabulary()[1:] == sorted(set(data.x_train[:, 2].astype(int)))
    assert lookups["one_hot_3"].get_vocabulary()[1:] == [10, 11, 12, 13, 14]
    # Raw rows in (codes as given, charges unscaled), the logged test accuracy out.
    predicted = (model.predict(data.x_test, verbose=0)[:, 0] > 0.5).astype(int)
    assert np.mean(predicted == data.y_test) == pytest.approx(
        run.data.metrics["test_accuracy"], abs=1e-6
    )
    unseen = data.x_test[:3].copy()
    unseen[:, 3] = 99  # a region never seen in training
    assert np.isfinite(model.predict(unseen, verbose=0)).all()
    np.save(workdir / "customers.npy", unseen)
    shown = cli("predict", logged_model(run), workdir / "customers.npy")
    assert shown.exit_code == 0 and shown.stdout.splitlines()[0] == "row,class,probability"


@pytest.mark.slow  # a search of many epochs or trials
def test_one_hot_codes_beat_codes_read_as_numbers(cli, study_file, workdir):
    """Region 12 churns most: a linear model can only use that as a category."""
    accuracies = {}
    for categorical in ("[2, 3]", "[]"):
        study_file(body=CHURN.format(categorical=categorical), name=f"churn{len(categorical)}")
        result = cli(
            "run", workdir / f"churn{len(categorical)}.py", "--trials", "1", "--no-progress"
        )
        assert result.exit_code == 0, result.output
        _, [run] = trial_runs(workdir, f"churn{len(categorical)}")
        accuracies[categorical] = run.data.metrics["final_val_accuracy"]
    assert accuracies["[2, 3]"] > accuracies["[]"] + 0.03, accuracies


@pytest.mark.slow  # a search of many epochs or trials
def test_cv_value_is_the_mean_over_folds_with_each_fold_curve(cli, study_file, workdir):
    result = cli("run", study_file(body=TINY_CV.format(extra="")), "--trials", "2", "--no-progress")
    assert result.exit_code == 0, result.output
    assert "val_accuracy (mean of 3 folds)" in result.stdout
    client, runs = trial_runs(workdir)
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{workdir}/mlruns/optuna.db")
    for run, trial in zip(runs, study.trials, strict=True):
        folds = [m.value for m in client.get_metric_history(run.info.run_id, "cv_val_accuracy")]
        assert len(folds) == 3
        assert trial.value == pytest.approx(np.mean(folds))
        assert run.data.metrics["trial_value"] == pytest.approx(np.mean(folds))
        assert trial.intermediate_values == pytest.approx(
            {i: np.mean(folds[: i + 1]) for i in range(3)}
        )
        for fold in range(3):  # one per-epoch curve per fold
            assert len(client.get_metric_history(run.info.run_id, f"fold{fold}_val_accuracy")) >= 2
        assert "test_accuracy" in run.data.metrics  # the model refit on the study's split


def test_cv_pruning_works_on_the_running_mean(cli, study_file, workdir):
    pruner = "pruner=optuna.pruners.ThresholdPruner(lower=0.9999),"
    result = cli(
        "run", study_file(body=TINY_CV.format(extra=pruner)), "--trials", "1", "--no-progress"
    )
    assert result.exit_code == 0, result.output
    client, [run] = trial_runs(workdir)
    [trial] = optuna.load_study(
        study_name="tiny", storage=f"sqlite:///{workdir}/mlruns/optuna.db"
    ).trials
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0]
    assert run.data.tags["tuner.state"] == "PRUNED"
    assert "fold1_val_accuracy" not in run.data.metrics  # later folds were not trained


def test_cv_with_keras_tuner_is_refused(cli, study_file, workdir):
    result = cli(
        "run", study_file(body=TINY_CV.format(extra="")), "--engine", "keras-tuner", "--no-progress"
    )
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "Error: cv: the keras-tuner engine does not cross-validate; "
        "run this study with --engine optuna, or drop cv"
    )


@pytest.mark.slow  # the finder trains twice, then two searches
def test_auto_learning_rate_runs_the_finder_once_per_optimizer(cli, study_file, workdir):
    body = """
    import tuner
    from tuner.datasets import synthetic
    study = tuner.Study(data=lambda: synthetic(n=600),
                        space=tuner.Space(n_layers=1, units=16, learning_rate="auto",
                                          batch_size=32, optimizer=tuner.Choice(["adam", "sgd"]),
                                          weight_decay=0.0, lr_schedule="constant",
                                          normalization="none", dropout=0.0),
                        max_epochs=8, patience=3, portfolio=False)
    """
    path = study_file(body=body)
    assert cli("run", path, "--trials", "3", "--no-progress").exit_code == 0
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("tiny")
    finds = client.search_runs([experiment.experiment_id], "tags.`tuner.auto` = 'true'")
    assert sorted(r.data.params["optimizer"] for r in finds) == ["adam", "sgd"]
    low = min(r.data.metrics["suggested_low"] for r in finds)
    high = max(r.data.metrics["suggested_high"] for r in finds)
    _, runs = trial_runs(workdir)
    rates = [float(r.data.params["learning_rate"]) for r in runs]
    assert all(low <= rate <= high for rate in rates), (low, rates, high)
    assert max(r.data.metrics["final_val_accuracy"] for r in runs) > 0.9
    parent = client.get_run(runs[0].data.tags["mlflow.parentRunId"])
    assert parent.data.params["learning_rate_found"] == f"{low:.3g}..{high:.3g}"

    # Resumed, the study keeps its range: no new finding.
    assert cli("run", path, "--trials", "1", "--no-progress").exit_code == 0
    assert len(client.search_runs([experiment.experiment_id], "tags.`tuner.auto` = 'true'")) == 2
