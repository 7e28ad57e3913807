"""Regression targets as they come: prices in the hundred-thousands train, and the logged
model predicts in the target's own units."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from tuner.data.prepare import TargetScale, target_scale

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
                    optimizer=tuner.Choice(["adam", "sgd"])),
                    baselines=[{"n_layers": 1, "units_0": 32, "learning_rate": 0.01,
                                "optimizer": "adam"},
                               {"n_layers": 1, "units_0": 32, "learning_rate": 0.003,
                                "optimizer": "sgd"}])
"""


def test_target_scale_is_the_training_targets_mean_and_spread():
    scale = target_scale(np.array([[100.0, 1.0], [300.0, 1.0]]))
    assert scale == TargetScale(mean=(200.0, 1.0), std=(100.0, 1.0))  # a constant column: 1
    assert target_scale(np.array([5.0, 7.0, 9.0])).mean == (7.0,)


def test_prices_train_better_than_the_mean_and_the_model_predicts_in_their_units(
        study_file, cli, workdir):
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

    params = {"n_layers": 1, "units_0": 8, "learning_rate": 0.01, "optimizer": optimizer,
              "activation": "relu", "dropout": 0.0}
    x = np.linspace(0, 1, 64, dtype="float32").reshape(-1, 1)
    losses = []
    for unit in (1.0, 1000.0):
        y = (200.0 + 100.0 * x[:, 0]) * unit
        keras.utils.set_random_seed(0)
        model = build_model(params, (1,), Task("regression", 1),
                            target_scale=target_scale(y))
        losses.append(model.evaluate(x, y, verbose=0)[0])
    assert losses[0] == pytest.approx(losses[1], rel=1e-4)
