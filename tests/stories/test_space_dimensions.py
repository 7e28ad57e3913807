"""Each searchable dimension trains, is logged as a param, and its model loads without tuner."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

import tuner
from tuner.core.errors import SpaceError

BASE = {
    "optimizer": "adam",
    "momentum": 0.0,
    "weight_decay": 0.0,
    "lr_schedule": "constant",
    "normalization": "none",
    "label_smoothing": 0.0,
    "kernel_initializer": "glorot_uniform",
}
SPACE = """tuner.Space(n_layers=1, units=8, learning_rate=0.01, batch_size=32,
    optimizer=tuner.Choice(["adam", "sgd"]), momentum=tuner.Choice([0.0, 0.9]),
    weight_decay=tuner.Choice([0.0, 0.001]), lr_schedule=tuner.Choice(["constant", "cosine",
    "plateau"]), normalization=tuner.Choice(["none", "batch", "layer"]),
    label_smoothing=tuner.Choice([0.0, 0.1, 0.2]),
    kernel_initializer=tuner.Choice(["glorot_uniform", "he_normal"]))"""
OPTIONS = {  # what each option must leave in the logged model, read back without tuner
    "normalization=batch": ({"normalization": "batch"}, "layers", "BatchNormalization"),
    "normalization=layer": ({"normalization": "layer"}, "layers", "LayerNormalization"),
    # a float rate, set per epoch: the last epoch's, near 0 at the end of the cosine
    "lr_schedule=cosine": ({"lr_schedule": "cosine"}, "layers", "Dense"),
    "lr_schedule=plateau": ({"lr_schedule": "plateau"}, "layers", "Dense"),
    "weight_decay": ({"weight_decay": 0.001}, "weight_decay", 0.001),
    "sgd momentum": ({"optimizer": "sgd", "momentum": 0.9}, "momentum", 0.9),
    "label_smoothing": ({"label_smoothing": 0.1}, "label_smoothing", 0.1),
    "kernel_initializer=he_normal": (
        {"kernel_initializer": "he_normal"},
        "initializer",
        "HeNormal",
    ),
}
MULTICLASS = """
import numpy as np
import tuner

def three_classes():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0.5)
    return tuner.Data.split(x, y, validation=60)

study = tuner.Study(data=three_classes, trials=1, max_epochs=3, patience=3, pruner="none",
                    space={SPACE}, baselines=[{BASELINE}], portfolio=False)
"""
# Run in a new process that never imports tuner: what each logged model holds.
READ_BACK = """
import json, sys
import mlflow, numpy as np
mlflow.set_tracking_uri(sys.argv[1])
out = {}
for uri in sys.argv[2:]:
    model = mlflow.keras.load_model(uri)
    optimizer = model.optimizer.get_config()
    rate = optimizer["learning_rate"]
    out[uri] = {
        "layers": [type(layer).__name__ for layer in model.layers],
        "learning_rate": rate.get("class_name") if isinstance(rate, dict) else rate,
        "weight_decay": optimizer.get("weight_decay"), "momentum": optimizer.get("momentum"),
        "label_smoothing": (model.loss.get_config().get("label_smoothing")
                            if hasattr(model.loss, "get_config") else 0.0),
        "rows": len(model.predict(np.zeros((3,) + model.input_shape[1:]), verbose=0)),
        "initializer": [type(layer.kernel_initializer).__name__ for layer in model.layers
                        if hasattr(layer, "kernel_initializer")],
    }
assert "tuner" not in sys.modules
print(json.dumps(out))
"""


@pytest.mark.slow
def test_each_option_trains_is_logged_and_loads_without_tuner(study_file, cli, workdir):
    baselines = [{**BASE, **change} for change, _, _ in OPTIONS.values()]
    path = study_file(
        body=f"""
import tuner
from tuner.datasets import synthetic
study = tuner.Study(data=lambda: synthetic(n=300), space={SPACE}, max_epochs=3, patience=3,
                    pruner="none", artifacts_for_top=None, baselines={baselines!r},
                    portfolio=False)
"""
    )
    result = cli("run", path, "--trials", str(len(baselines)), "--no-progress")
    assert result.exit_code == 0, result.output
    (workdir / "three.py").write_text(
        MULTICLASS.replace("{SPACE}", SPACE).replace(
            "{BASELINE}", repr({**BASE, "label_smoothing": 0.2})
        )
    )
    result = cli("run", workdir / "three.py", "--no-progress")
    assert result.exit_code == 0, result.output

    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    client = MlflowClient(uri)
    runs = {}
    for study in ("tiny", "three"):
        experiment = client.get_experiment_by_name(study)
        runs[study] = sorted(
            client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'"),
            key=lambda r: int(r.data.tags["tuner.trial"]),
        )
    models = {r.info.run_id: f"runs:/{r.info.run_id}/model" for rs in runs.values() for r in rs}
    done = subprocess.run(
        [sys.executable, "-c", READ_BACK, uri, *models.values()],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    held = json.loads(done.stdout.strip().splitlines()[-1])

    for run, (change, key, expected) in zip(runs["tiny"], OPTIONS.values(), strict=True):
        assert run.data.tags["tuner.state"] == "COMPLETE"
        for name, value in change.items():
            assert run.data.params[name] == str(value)  # logged as the trial's param
        model = held[models[run.info.run_id]]
        assert model["rows"] == 3
        found = model[key]
        assert expected in found if isinstance(found, list) else found == pytest.approx(expected)
    plateau = runs["tiny"][list(OPTIONS).index("lr_schedule=plateau")]
    assert client.get_metric_history(plateau.info.run_id, "learning_rate")  # Keras logs it
    cosine = runs["tiny"][list(OPTIONS).index("lr_schedule=cosine")]
    rates = [
        m.value
        for m in sorted(
            client.get_metric_history(cosine.info.run_id, "learning_rate"), key=lambda m: m.step
        )
    ]
    assert rates == pytest.approx([0.01, 0.0075, 0.0025])  # cosine to 0 at epoch 3
    [three] = runs["three"]
    assert three.data.params["label_smoothing"] == "0.2"
    assert held[models[three.info.run_id]]["label_smoothing"] == pytest.approx(0.2)
    assert (
        three.data.metrics[
            "test_accuracy" if "test_accuracy" in three.data.metrics else "final_val_accuracy"
        ]
        > 0.5
    )


def test_label_smoothing_is_refused_for_regression(study_file, cli):
    body = """
    import numpy as np
    import tuner

    def values():
        x = np.linspace(0, 1, 200, dtype="float32").reshape(-1, 2)
        return tuner.Data.split(x, x.sum(1) * 1.5, validation=20)

    study = tuner.Study(data=values, space=tuner.Space(label_smoothing=0.1), trials=1,
                        max_epochs=1)
    """
    result = cli("run", study_file(body=body, name="reg"), "--no-progress")
    assert result.exit_code == 2
    assert "space.label_smoothing: only for classification" in result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr_schedule": "linear"}, "space.lr_schedule: unknown lr_schedule 'linear'"),
        (
            {"normalization": tuner.Choice(["batch", "group"])},
            "space.normalization: unknown normalization 'group'",
        ),
        ({"momentum": 1.0}, "space.momentum: expected values >= 0 and < 1"),
        ({"weight_decay": tuner.Float(-1e-3, 1e-2)}, "space.weight_decay: expected values >= 0"),
        ({"label_smoothing": 1.0}, "space.label_smoothing: expected values >= 0 and < 1"),
        ({"kernel_initializer": "zeros"}, "space.kernel_initializer: unknown kernel_initializer"),
    ],
)
def test_bad_values_of_the_new_dimensions_are_refused(change, message):
    with pytest.raises(SpaceError, match=message.replace("(", r"\(")):
        tuner.Space(**change)
