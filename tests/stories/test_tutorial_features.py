"""What the Keras tutorials teach by hand, done inside the study and tracked."""

from __future__ import annotations

import re

import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

from tuner.datasets import inbox

RAW_TABULAR = """
import numpy as np
import tuner
from tuner.datasets import synthetic

def raw():
    data = synthetic(n=600)
    # Features in thousands, as raw tabular data often is; labels as {labels}.
    scale = lambda x: x * 1000.0 + 500.0
    def labels(y):
        return {convert}
    return tuner.Data(scale(data.x_train), labels(data.y_train), scale(data.x_val),
                      labels(data.y_val), scale(data.x_test), labels(data.y_test))

study = tuner.Study(
    data=raw,
    space=tuner.Space(n_layers={n_layers}, units=8, learning_rate=0.05, batch_size=32,
                      optimizer="adam", weight_decay=0.0, lr_schedule="constant",
                      normalization="none", dropout=0.0, label_smoothing=0.0,
                      feature_scaling="standard", numeric_embedding="none", ensemble_k=1),
    max_epochs=6, patience=6, portfolio=False,
)
"""


def run_and_get(cli, study_file, body: str, *args: str):
    result = cli("run", study_file(body=body), "--no-progress", *args)
    assert result.exit_code == 0, result.output
    uri = f"sqlite:///{study_file(body=body).parent}/mlruns/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs(
        [experiment.experiment_id],
        "tags.`tuner.role` = 'trial'",
        order_by=["attributes.start_time"],
    )
    mlflow.set_tracking_uri(uri)
    return result, client, runs


def logged_model(run):
    [model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        output_format="list",
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    return model.model_uri


def test_normalization_travels_in_the_model_adapted_on_training_data(cli, study_file):
    body = RAW_TABULAR.format(labels="integers", convert="y", n_layers=1)
    _, client, [run] = run_and_get(cli, study_file, body, "--trials", "1")

    model = mlflow.keras.load_model(logged_model(run))
    normalization = model.layers[0]
    assert type(normalization).__name__ == "Normalization"
    from tuner.datasets import synthetic

    train = synthetic(n=600).x_train * 1000.0 + 500.0
    np.testing.assert_allclose(np.ravel(normalization.mean), train.mean(axis=0), rtol=1e-4)
    raw_test = synthetic(n=600).x_test * 1000.0 + 500.0
    predicted = (model.predict(raw_test, verbose=0)[:, 0] > 0.5).astype(int)
    accuracy = np.mean(predicted == synthetic(n=600).y_test)
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)
    assert accuracy > 0.9  # learned from raw features in the thousands
    summary = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/model_summary.txt")
    assert "normalization" in summary.lower()
    assert run.data.metrics["n_parameters"] == model.count_params()


def test_images_are_rescaled_inside_the_model(cli, study_file):
    body = """
    import tuner
    from tuner.datasets import digits
    study = tuner.Study(data=digits, space=tuner.Space(n_layers=1, units=32,
                        learning_rate=0.01, batch_size=64, optimizer="adam"), max_epochs=3)
    """
    _, _, [run] = run_and_get(cli, study_file, body, "--trials", "1")
    model = mlflow.keras.load_model(logged_model(run))
    assert type(model.layers[0]).__name__ == "Rescaling"
    assert model.layers[0].scale == pytest.approx(1 / 16)


def test_one_hot_labels_and_zero_hidden_layers(cli, study_file):
    body = RAW_TABULAR.format(
        labels="one-hot rows", convert="np.eye(2, dtype='float32')[y]", n_layers=0
    )
    _, _, [run] = run_and_get(cli, study_file, body, "--trials", "1")
    model = mlflow.keras.load_model(logged_model(run))
    assert [type(layer).__name__ for layer in model.layers] == ["Normalization", "Dense"]
    assert model.loss == "categorical_crossentropy"
    assert run.data.metrics["final_val_accuracy"] > 0.9


def test_string_labels_keep_their_names_to_predict(cli, study_file, workdir):
    body = """
    import numpy as np
    import tuner
    from tuner.datasets import iris

    def named():
        data = iris()
        names = np.array(["setosa", "versicolor", "virginica"])
        return tuner.Data(data.x_train, names[data.y_train], data.x_val, names[data.y_val],
                          data.x_test, names[data.y_test])

    study = tuner.Study(data=named, space=tuner.Space(n_layers=1, units=16,
                        learning_rate=0.05, batch_size=16, optimizer="adam"), max_epochs=30)
    """
    _, _, [run] = run_and_get(cli, study_file, body, "--trials", "1")
    from tuner.datasets import iris

    np.save(workdir / "flowers.npy", iris().x_test[:6])
    predicted = cli("predict", logged_model(run), workdir / "flowers.npy")
    assert predicted.exit_code == 0, predicted.output
    classes = [line.split(",")[1] for line in predicted.stdout.splitlines()[1:]]
    assert set(classes) <= {"setosa", "versicolor", "virginica"} and len(classes) == 6
    report = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/classification_report.json")
    assert {"setosa", "versicolor", "virginica"} <= report.keys()


def test_multilabel_study_has_sigmoid_outputs_and_a_report_per_label(cli, study_file, workdir):
    body = """
    import tuner
    from tuner.datasets import inbox
    study = tuner.Study(data=inbox, class_names=["spam", "urgent"],
                        space=tuner.Space(n_layers=1, units=32, learning_rate=0.01,
                                          batch_size=64, optimizer="adam", label_smoothing=0.0),
                        max_epochs=8, portfolio=False)
    """
    _, _, [run] = run_and_get(cli, study_file, body, "--trials", "1")
    model = mlflow.keras.load_model(logged_model(run))
    assert model.output_shape == (None, 2) and model.loss == "binary_crossentropy"
    report = mlflow.artifacts.load_dict(f"{run.info.artifact_uri}/classification_report.json")
    assert {"spam", "urgent"} <= report.keys()
    assert run.data.metrics["final_val_accuracy"] > 0.85
    np.save(workdir / "messages.npy", inbox().x_test[:4])
    predicted = cli("predict", logged_model(run), workdir / "messages.npy")
    assert predicted.stdout.splitlines()[0] == "row,labels"
    assert all(
        re.fullmatch(r"\d,((spam|urgent)(\|urgent)?)?", line)
        for line in predicted.stdout.splitlines()[1:]
    )


def test_show_states_the_improvement_over_the_best_baseline(cli, study_file):
    body = RAW_TABULAR.format(labels="integers", convert="y", n_layers="tuner.Int(0, 1)")
    body = body.replace("max_epochs=6", "baselines=[{'n_layers': 0}], max_epochs=6")
    run_and_get(cli, study_file, body, "--trials", "3")
    shown = cli("show", "tiny")
    assert re.search(
        r"best baseline 0: \d\.\d{4}, best trial \d: \d\.\d{4} \([+-]\d\.\d{4}", shown.stdout
    ), shown.stdout
    assert re.search(r"^0\*\s", shown.stdout, re.M)


def test_grid_sampler_walks_a_finite_space_once(cli, study_file, workdir):
    body = (
        RAW_TABULAR.format(labels="integers", convert="y", n_layers=1)
        .replace(
            "units=8, learning_rate=0.05",
            "units=tuner.Choice([4, 8]), learning_rate=tuner.Choice([0.01, 0.1])",
        )
        .replace("max_epochs=6", "max_epochs=2")
    )
    result, _, runs = run_and_get(cli, study_file, body, "--trials", "10", "--sampler", "grid")
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{workdir}/mlruns/optuna.db")
    assert len(study.trials) == 4
    assert {(t.params["units_0"], t.params["learning_rate"]) for t in study.trials} == {
        (4, 0.01),
        (4, 0.1),
        (8, 0.01),
        (8, 0.1),
    }
    assert {r.data.tags["tuner.sampler"] for r in runs} == {"GridSampler"}


def test_grid_sampler_refuses_a_range_by_name(cli, study_file):
    result = cli("run", study_file(), "--sampler", "grid", "--no-progress")
    assert result.exit_code == 2
    assert "sampler 'grid' needs a finite space: space.n_layers is a range" in result.stderr


def test_random_sampler_and_successive_halving_are_recorded(cli, study_file):
    result, _, runs = run_and_get(
        cli,
        study_file,
        RAW_TABULAR.format(labels="integers", convert="y", n_layers="tuner.Int(0, 2)"),
        "--trials",
        "2",
        "--sampler",
        "random",
        "--pruner",
        "successive-halving",
    )
    assert {r.data.tags["tuner.sampler"] for r in runs} == {"RandomSampler"}
    assert {r.data.tags["tuner.pruner"] for r in runs} == {"SuccessiveHalvingPruner"}
