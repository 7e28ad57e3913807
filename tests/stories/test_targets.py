"""Regression targets as they come: prices in the hundred-thousands train, and the logged
model predicts in the target's own units."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

import tuner
from tuner.core.errors import DataError
from tuner.data.prepare import TargetScale, skewed_target, target_scale
from tuner.data.targets import check, infer_task
from tuner.tracking.flavor.tuner_raw_rows import BadCells, RawRowsModel

HOUSES = """
import numpy as np
import pandas as pd
import tuner

def houses(seed):
    rng = np.random.default_rng(7)
    area = rng.uniform(50, 250, 600)
    rooms = rng.integers(1, 7, 600)
    price = 40_000 + 900 * area + 8_000 * rooms + rng.normal(0, 6_000, 600)
    frame = pd.DataFrame({"area": area, "rooms": rooms.astype("float64"), "price": price})
    return tuner.Data.from_frame(frame, target="price", seed=seed)

study = tuner.Study(data=houses, task="regression", trials=2, max_epochs=25, patience=5,
                    pruner="none", space=tuner.Space(n_layers=1, units=32, batch_size=32,
                    learning_rate=tuner.Float(3e-3, 1e-2, log=True),
                    optimizer=tuner.Choice(["adam", "sgd"]), weight_decay=0.0,
                    lr_schedule="constant", normalization="none", dropout=0.0),
                    baselines=[{"n_layers": 1, "units_0": 32, "learning_rate": 0.01,
                                "optimizer": "adam"},
                               {"n_layers": 1, "units_0": 32, "learning_rate": 0.003,
                                "optimizer": "sgd"}], portfolio=False)
"""


def test_target_scale_is_the_training_targets_mean_and_spread():
    scale = target_scale(np.array([[100.0, 1.0], [300.0, 1.0]]))
    assert scale == TargetScale(mean=(200.0, 1.0), std=(100.0, 1.0))  # a constant column: 1
    assert target_scale(np.array([5.0, 7.0, 9.0])).mean == (7.0,)


def test_prices_train_better_than_the_mean_and_the_model_predicts_in_their_units(
    study_file, cli, workdir
):
    path = study_file(body=HOUSES, name="houses")
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 0, result.output

    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("houses")
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    prices = pd.Series(np.random.default_rng(7).uniform(50, 250, 600))
    spread = float((900 * prices).std())  # what predicting the mean would miss, about
    for run in runs:  # Adam and plain SGD alike
        assert run.data.tags["tuner.state"] == "COMPLETE"
        assert run.data.metrics["test_mae"] < 0.25 * spread, run.data.params["optimizer"]

    mlflow.set_tracking_uri(uri)
    best = max(runs, key=lambda r: -r.data.metrics["test_mae"])
    model = mlflow.keras.load_model(f"runs:/{best.info.run_id}/model")
    rows = {"area": np.array([[100.0], [200.0]]), "rooms": np.array([[3.0], [3.0]])}
    predicted = np.asarray(model.predict(rows, verbose=0)).ravel()
    expected = 40_000 + 900 * np.array([100.0, 200.0]) + 24_000
    assert np.abs(predicted - expected).max() < 0.15 * spread
    assert "target_scale" in layer_names(model)  # Keras's Rescaling, no tuner code


def layer_names(layer) -> list[str]:
    """Every layer's name, nested models' layers included."""
    return [layer.name] + [n for sub in getattr(layer, "layers", []) for n in layer_names(sub)]


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_a_scaled_target_does_not_change_what_the_loss_compares(optimizer):
    """Trials compare val_loss on the standardized scale: the same for prices in dollars
    and in thousands of dollars."""
    import keras

    from tuner.core.tasks import Task
    from tuner.keras.model import build_model

    params = {
        "n_layers": 1,
        "units_0": 8,
        "learning_rate": 0.01,
        "optimizer": optimizer,
        "activation": "relu",
        "dropout": 0.0,
    }
    x = np.linspace(0, 1, 64, dtype="float32").reshape(-1, 1)
    losses = []
    for unit in (1.0, 1000.0):
        y = (200.0 + 100.0 * x[:, 0]) * unit
        keras.utils.set_random_seed(0)
        model = build_model(params, (1,), Task("regression", 1), target_scale=target_scale(y))
        losses.append(model.evaluate(x, y, verbose=0)[0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)


def test_whole_numbers_are_a_quantity_when_many_and_spread_and_classes_when_codes():
    rng = np.random.default_rng(0)
    assert infer_task(rng.integers(30_000, 750_000, 1460)).kind == "regression"  # prices
    assert infer_task(rng.integers(0, 900, 10_000)).kind == "regression"  # counts
    assert infer_task(rng.integers(0, 100, 50_000)).kind == "multiclass"  # 100 class codes
    assert infer_task(rng.integers(0, 10, 100)).kind == "multiclass"
    assert infer_task(rng.integers(30_000, 750_000, 1460), "multiclass").kind == "multiclass"


def test_an_integer_price_target_splits_and_errors_about_classes_name_the_task():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"area": rng.uniform(50, 250, 300), "price": rng.integers(30_000, 750_000, 300)}
    )
    data = tuner.Data.from_frame(frame, target="price")  # not stratified as 290 classes
    assert len(data.y_train) + len(data.y_val) + len(data.y_test) == 300
    with pytest.raises(
        DataError,
        match=r"read as classes \(task 'multiclass'\): for a "
        r"quantity, set task='regression' on the study",
    ):
        check(data, infer_task(data.y_train[:40] % 7, "multiclass"))
    few = pd.DataFrame({"x": np.arange(30.0), "y": [0] * 29 + [1]})
    with pytest.raises(DataError, match="for a quantity, also set task='regression'"):
        tuner.Data.from_frame(few, target="y")


def test_a_column_that_numbers_the_rows_is_refused_by_name():
    frame = pd.DataFrame(
        {"rownames": np.arange(1, 41), "x": np.linspace(0, 1, 40), "y": ["a", "b"] * 20}
    )
    for rows in (frame, frame.sample(frac=1, random_state=0)):  # in order or shuffled
        with pytest.raises(
            DataError,
            match=r"^column 'rownames' numbers the rows \(1\.\.40, each "
            r"once\): an identifier, not a feature; drop it",
        ):
            tuner.Data.from_frame(rows, target="y")


def test_a_cell_that_is_not_a_number_is_refused_not_filled():
    import keras

    age = keras.Input(shape=(1,), name="age")
    model = keras.Model({"age": age}, keras.layers.Dense(1)(age))
    rows = RawRowsModel(model)
    assert len(rows.predict(pd.DataFrame({"age": [34.0, None]}))) == 2  # empty: missing
    with pytest.raises(BadCells, match=r"^column 'age', row 1: 'abc' is not a number"):
        rows.predict(pd.DataFrame({"age": ["34", "abc"]}))


IMBALANCED = """
import numpy as np
import tuner

def loans():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(1000, 2)).astype("float32")
    noise = rng.normal(scale=0.8, size=1000)
    y = (x[:, 0] + noise > 2.2).astype("int64")  # about 5 % defaults, never certain
    return tuner.Data.split(x, y, validation=0.3, stratify=True, seed=1)

study = tuner.Study(data=loans, trials=1, max_epochs=12, patience=12, pruner="none",
                    space=tuner.Space(n_layers=1, units=16, learning_rate=0.01, batch_size=32,
                                      optimizer="adam"), {extra})
"""


def recall_of_the_rare_class(workdir, study: str) -> float:
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    [run] = client.search_runs(
        [client.get_experiment_by_name(study).experiment_id], "tags.`tuner.role` = 'trial'"
    )
    report = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/classification_report.json")
    return report["1"]["recall"], run


@pytest.mark.slow  # two searches
def test_a_rare_class_is_warned_about_and_balanced_weights_find_it(study_file, cli, workdir):
    plain = cli("run", study_file(body=IMBALANCED.format(extra=""), name="plain"), "--no-progress")
    assert plain.exit_code == 0, plain.output
    assert "warning: class 1 is 4.6% of training" in plain.stderr
    assert "set class_weight='balanced' on the study" in plain.stderr
    weighed = cli(
        "run",
        study_file(body=IMBALANCED.format(extra="class_weight='balanced',"), name="weighed"),
        "--no-progress",
    )
    assert weighed.exit_code == 0, weighed.output
    plain_recall, _ = recall_of_the_rare_class(workdir, "plain")
    weighed_recall, run = recall_of_the_rare_class(workdir, "weighed")
    assert run.data.params["class_weight"] == "balanced"
    print(f"recall of the rare class: {plain_recall:.2f} plain, {weighed_recall:.2f} balanced")
    assert weighed_recall >= plain_recall + 0.3


def test_class_weight_is_for_classes_only():
    from tuner.core.errors import StudyConfigError
    from tuner.core.tasks import Task
    from tuner.data.prepare import balanced_weights

    weights = balanced_weights(np.array([0, 0, 0, 1]), Task("binary", 1))
    assert weights == {0: pytest.approx(4 / 6), 1: pytest.approx(2.0)}
    with pytest.raises(StudyConfigError, match="class_weight: for binary and multiclass"):
        balanced_weights(np.array([1.5, 2.5]), Task("regression", 1))
    with pytest.raises(
        StudyConfigError, match=r"class_weight: expected one of \(None, 'balanced'\)"
    ):
        tuner.Study(data=list, class_weight="auto")


def test_a_skewed_positive_target_is_learned_as_its_log_or_warned_when_it_is_not():
    from tuner.core.errors import StudyConfigError
    from tuner.data.prepare import learns_log

    rng = np.random.default_rng(0)
    prices = rng.lognormal(12, 0.9, 1000)  # house prices: a long right tail
    symmetric = rng.normal(180_000, 40_000, 1000)
    signed = rng.normal(0, 1, 1000) ** 3 - 10  # negative values: no log
    assert learns_log(prices, "auto") and not learns_log(prices, False)
    assert not learns_log(symmetric, "auto") and learns_log(symmetric, True)
    assert not learns_log(signed, "auto")
    with pytest.raises(StudyConfigError, match="log_target=True: the target has values below 0"):
        learns_log(signed, True)
    warning = skewed_target(prices, log=False)
    assert warning.kind == "skewed_target" and "log_target" in warning.message
    assert skewed_target(prices, log=True) is None
    assert skewed_target(symmetric, log=False) is None
    assert skewed_target(signed, log=False) is None


def test_a_log_target_model_predicts_in_the_targets_units_and_scores_its_log(tmp_path):
    """The network learns the standardized log1p(y); the model's last layers turn it back,
    and the loss a trial logs is the standardized squared error of the logs."""
    import keras

    from tuner.core.tasks import Task
    from tuner.keras.model import build_model

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2000, 3)).astype("float32")
    y = np.expm1(8 + x[:, 0] + 0.5 * x[:, 1] + rng.normal(0, 0.1, 2000))
    scale = target_scale(y, log=True)
    assert scale.mean[0] == pytest.approx(np.log1p(y).mean())
    params = {
        "n_layers": 1,
        "units_0": 32,
        "activation": "relu",
        "dropout": 0.0,
        "optimizer": "adam",
        "learning_rate": 1e-2,
    }
    model = build_model(params, (3,), Task("regression", 1), target_scale=scale)
    model.fit(x, y, epochs=20, batch_size=64, verbose=0)
    predicted = model.predict(x, verbose=0)
    assert np.median(np.abs(predicted.ravel() / y - 1)) < 0.25  # prices, as prices
    logged_loss = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert scale.loss(y, predicted) == pytest.approx(logged_loss, rel=1e-3)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(again.predict(x, verbose=0), predicted, rtol=1e-5)


NOISE = """
import numpy as np
import tuner

def noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 4)).astype("float32")
    y = (rng.random(400) < 0.06).astype("int64")  # a rare class the inputs cannot tell
    return tuner.Data(x[:300], y[:300], x[300:], y[300:])

study = tuner.Study(data=noise, space=tuner.Space(n_layers=1, units=8, batch_size=64),
                    trials=2, max_epochs=2, portfolio=False)
"""


def test_a_best_trial_no_better_than_the_majority_class_is_warned_about(study_file, cli, workdir):
    done = cli("run", study_file(body=NOISE, name="noise"), "--no-progress")
    assert done.exit_code == 0, done.output
    assert re.search(
        r"val_accuracy = ([\d.]+) ± [\d.]+  \(always predicting the majority class 0: \1\)",
        done.stdout,
    ), done.stdout
    assert "warning: the best trial's val_accuracy" in done.stderr
    assert "is no better than always predicting the majority class 0" in done.stderr
    assert "warning: the best trial predicts a single class for every validation row" in (
        done.stderr
    )
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    [parent] = client.search_runs(
        [client.get_experiment_by_name("noise").experiment_id], "tags.`tuner.role` = 'study'"
    )
    assert {"tuner.warning.trivial", "tuner.warning.one_class"} <= parent.data.tags.keys()
    assert parent.data.metrics["trivial_value"] == pytest.approx(parent.data.metrics["best_value"])
