"""`tuner run` end to end: a real Optuna study, real MLflow runs, real Keras training."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

from tuner.datasets import synthetic


@pytest.fixture
def tracking_uri(workdir) -> str:
    return f"sqlite:///{workdir}/mlruns/mlflow.db"


@pytest.fixture
def storage(workdir) -> str:
    return f"sqlite:///{workdir}/mlruns/optuna.db"


def trial_runs(client: MlflowClient, study: str) -> list[mlflow.entities.Run]:
    experiment = client.get_experiment_by_name(study)
    runs = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    return sorted(runs, key=lambda r: int(r.data.tags["tuner.trial"]))


def parent_runs(client: MlflowClient, study: str) -> list[mlflow.entities.Run]:
    experiment = client.get_experiment_by_name(study)
    return client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'study'")


def test_run_logs_every_trial_to_optuna_and_mlflow(searched_tiny, workdir, tracking_uri, storage):
    assert "study tiny: 3 trials (3 complete" in searched_tiny
    assert (workdir / "mlruns" / "mlflow.db").exists()
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 3

    client = MlflowClient(tracking_uri)
    [parent] = parent_runs(client, "tiny")
    runs = trial_runs(client, "tiny")
    assert [r.info.run_name for r in runs] == ["trial-000", "trial-001", "trial-002"]
    for trial, run in zip(study.trials, runs, strict=True):
        assert trial.user_attrs["mlflow_run_id"] == run.info.run_id
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert run.data.tags["tuner.study"] == "tiny"
        assert run.data.tags["tuner.state"] == "COMPLETE"
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert {
            "n_layers",
            "units_0",
            "learning_rate",
            "batch_size",
            "optimizer",
            "max_epochs",
            "patience",
            "seed",
        } <= params.keys()
        assert int(params["n_layers"]) == trial.params["n_layers"]
        assert float(params["learning_rate"]) == trial.params["learning_rate"]
        curve = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert [m.step for m in curve] == sorted(trial.intermediate_values)  # every epoch
        assert len(curve) == run.data.metrics["epochs_trained"] >= 2
        assert {
            "loss",
            "val_loss",
            "accuracy",
            "final_val_accuracy",
            "test_accuracy",
            "epochs_trained",
        } <= run.data.metrics.keys()
        assert run.data.metrics["final_val_accuracy"] == trial.value

    best = study.best_trial
    assert parent.data.tags["tuner.best_run_id"] == best.user_attrs["mlflow_run_id"]
    assert parent.data.metrics["best_value"] == best.value
    assert parent.info.status == "FINISHED"


def test_logged_model_loads_back_through_keras_and_pyfunc(searched_tiny, tracking_uri):
    mlflow.set_tracking_uri(tracking_uri)
    run = trial_runs(MlflowClient(tracking_uri), "tiny")[0]
    [logged] = [
        m
        for m in mlflow.search_logged_models(
            experiment_ids=[run.info.experiment_id], output_format="list"
        )
        if m.source_run_id == run.info.run_id
    ]
    x = synthetic(n=300).x_test

    keras_model = mlflow.keras.load_model(logged.model_uri)
    pyfunc_model = mlflow.pyfunc.load_model(logged.model_uri)

    probabilities = keras_model.predict(x, verbose=0)
    assert probabilities.shape == (len(x), 1)
    np.testing.assert_allclose(np.asarray(pyfunc_model.predict(x)), probabilities, rtol=1e-5)
    assert pyfunc_model.metadata.get_input_schema().input_types()[0] == np.dtype("float32")
    accuracy = np.mean((probabilities[:, 0] > 0.5) == synthetic(n=300).y_test)
    assert accuracy == pytest.approx(run.data.metrics["test_accuracy"], abs=1e-6)


def test_rerun_continues_the_study_and_numbering(searched_tiny, cli, tracking_uri, storage):
    result = cli("run", "tiny.py", "--trials", "2", "--no-progress")  # 3 trials searched before

    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert [t.number for t in study.trials] == [0, 1, 2, 3, 4]
    assert len({tuple(sorted(t.params.items())) for t in study.trials}) == 5
    client = MlflowClient(tracking_uri)
    assert len(parent_runs(client, "tiny")) == 2
    assert [r.data.tags["tuner.trial"] for r in trial_runs(client, "tiny")] == [
        "0",
        "1",
        "2",
        "3",
        "4",
    ]


def test_study_designed_to_prune_prunes(study_file, cli, tracking_uri, storage):
    good = {"n_layers": 1, "units_0": 16, "learning_rate": 0.1, "optimizer": "adam"}
    hopeless = {"n_layers": 1, "units_0": 4, "learning_rate": 0.01, "optimizer": "nadam"}
    path = study_file(
        extra=f"""baselines=[{good}, {hopeless}],
    pruner=optuna.pruners.MedianPruner(n_startup_trials=1, n_warmup_steps=0),
    objective="val_loss",
    sampler="random",
    portfolio=False,"""
    )
    path.write_text("import optuna\n" + path.read_text())

    result = cli("run", path, "--trials", "2", "--no-progress")

    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
    runs = trial_runs(MlflowClient(tracking_uri), "tiny")
    assert [r.data.tags["tuner.state"] for r in runs] == ["COMPLETE", "PRUNED"]
    assert all(r.data.tags.get("tuner.baseline") == "true" for r in runs)
    assert runs[1].info.status == "FINISHED"
    # the pruned trial's curve holds every epoch Optuna saw, the one it was pruned at too
    client = MlflowClient(tracking_uri)
    for trial, run in zip(study.trials, runs, strict=True):
        curve = client.get_metric_history(run.info.run_id, "val_loss")
        assert [(m.step, m.value) for m in curve] == sorted(trial.intermediate_values.items())
    assert "1 pruned" in result.stdout


def test_trial_with_nan_loss_fails_and_study_goes_on(study_file, cli, tracking_uri, storage):
    body = """
    import numpy as np
    import tuner

    def exploding():
        rng = np.random.default_rng(0)
        x = rng.normal(size=(200, 3)).astype("float32")
        y = (x @ np.array([1.0, 2.0, 3.0]) * 1e3).astype("float32")
        return tuner.Data.split(x, y, validation=50)

    study = tuner.Study(
        data=exploding, task="regression",
        space=tuner.Space(n_layers=1, units=8, learning_rate=tuner.Float(1e3, 1e4),
                          batch_size=32, optimizer="sgd"),
        max_epochs=3,
    )
    """
    result = cli("run", study_file(body=body), "--trials", "2", "--no-progress")

    assert result.exit_code == 0, result.output
    assert "0 complete, 0 pruned, 2 fail" in result.stdout
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"]
    client = MlflowClient(tracking_uri)
    for run in trial_runs(client, "tiny"):
        assert run.info.status == "FAILED"
        assert run.data.tags["tuner.state"] == "FAIL"
        assert "NaN" in run.data.tags["tuner.fail_reason"]
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["error.txt"]


def test_tracking_uri_and_storage_options_override_defaults(study_file, cli, workdir):
    tracking = f"sqlite:///{workdir}/elsewhere/mlflow.db"
    storage = f"sqlite:///{workdir}/elsewhere/optuna.db"
    (workdir / "elsewhere").mkdir()

    result = cli(
        "run",
        study_file(),
        "--trials",
        "1",
        "--no-progress",
        "--tracking-uri",
        tracking,
        "--storage",
        storage,
        "--study-name",
        "other",
    )

    assert result.exit_code == 0, result.output
    assert not (workdir / "mlruns" / "mlflow.db").exists()
    assert not (workdir / "mlruns" / "optuna.db").exists()
    assert len(optuna.load_study(study_name="other", storage=storage).trials) == 1
    assert len(trial_runs(MlflowClient(tracking), "other")) == 1
