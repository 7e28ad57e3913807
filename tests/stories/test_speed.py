"""Fast settings change how a trial runs, not what it learns."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import keras
import mlflow
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient
from mlflow.utils import requirements_utils

from tuner.data import inputs
from tuner.keras.model import compile_options
from tuner.runtime.workarounds import pins_checked_by_name
from tuner.tracking.models import model_requirements
from tuner.tracking.runs import Tracker

FIXED = """
import tuner
from tuner.datasets import synthetic

study = tuner.Study(
    data=synthetic,
    space=tuner.Space(n_layers=1, units=16, learning_rate=0.01, batch_size=16,
                      optimizer="adam", ensemble_k=1),
    max_epochs=8, patience=8, seed=7,
)
"""


def tuner_command(workdir: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """The `tuner` command in a new process (``python -m tuner.cli``), this checkout's tuner."""
    return subprocess.run(
        [sys.executable, "-m", "tuner.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def only_trial(workdir, name: str):
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(name)
    [run] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    return run


def test_fast_settings_reach_the_accuracy_of_keras_defaults(study_file, cli, workdir):
    path = study_file(body=FIXED)
    fast = cli("run", path, "--trials", "1", "--no-progress", "--study-name", "fast")
    plain = cli(
        "run",
        path,
        "--trials",
        "1",
        "--no-progress",
        "--study-name",
        "plain",
        "--steps-per-execution",
        "1",
        "--jit-compile",
        "off",
        "--input-pipeline",
        "arrays",
    )

    assert fast.exit_code == 0 and plain.exit_code == 0, fast.output + plain.output
    fast_run, plain_run = only_trial(workdir, "fast"), only_trial(workdir, "plain")
    assert fast_run.data.params["steps_per_execution"] == "64"
    assert plain_run.data.params["steps_per_execution"] == "1"
    assert fast_run.data.params["validation_batch_size"] == "1024"
    assert fast_run.data.params["input_pipeline"] == "dataset"  # auto: 800 rows are small
    assert plain_run.data.params["input_pipeline"] == "arrays"
    assert fast_run.data.params["jit_compile"] == plain_run.data.params["jit_compile"] == "False"
    assert fast_run.data.metrics["final_val_accuracy"] == pytest.approx(
        plain_run.data.metrics["final_val_accuracy"], abs=0.02
    )
    for phase in ("build", "fit", "evaluate", "report", "model", "epoch", "trace"):
        assert fast_run.data.metrics[f"time_{phase}_s"] > 0
    # the first epoch traces the new model's steps: far longer than a later one
    assert fast_run.data.metrics["time_trace_s"] > fast_run.data.metrics["time_epoch_s"]
    for store in ("mlflow.db", "optuna.db"):  # cheaper commits: write-ahead logging
        with closing(sqlite3.connect(workdir / "mlruns" / store)) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@pytest.mark.parametrize(("batch_size", "expected"), [(32, 32), (128, 8), (512, 2), (2048, 1)])
def test_auto_runs_about_1024_samples_per_call(batch_size, expected):
    assert compile_options(batch_size, "auto", False)["steps_per_execution"] == expected
    assert compile_options(batch_size, 3, True) == {"steps_per_execution": 3, "jit_compile": True}


def test_bad_steps_per_execution_is_a_usage_error(study_file, cli):
    result = cli("run", study_file(), "--steps-per-execution", "many")
    assert result.exit_code == 2
    assert "'--steps-per-execution': expected a number > 0 or auto" in result.stderr


@pytest.mark.slow  # a search of many epochs or trials
def test_only_trials_among_the_best_k_log_figures_and_a_model(study_file, cli, workdir):
    body = FIXED.replace("learning_rate=0.01", "learning_rate=tuner.Float(1e-4, 0.3, log=True)")
    body = body.replace("seed=7,", "seed=7, artifacts_for_top=1, pruner='none',")
    assert cli("run", study_file(body=body), "--trials", "6", "--no-progress").exit_code == 0
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("tiny")
    runs = client.search_runs(
        [experiment.experiment_id], "tags.`tuner.role` = 'trial'", order_by=["attributes.end_time"]
    )
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    best_so_far = None
    for run in runs:
        value = run.data.metrics["trial_value"]
        expected = best_so_far is None or value >= best_so_far
        best_so_far = value if expected else best_so_far
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        models = mlflow.search_logged_models(
            experiment_ids=[experiment.experiment_id],
            output_format="list",
            filter_string=f"source_run_id = '{run.info.run_id}'",
        )
        assert ("learning_curves.png" in artifacts) == expected == bool(models), run.info.run_name
        assert "model_summary.txt" in artifacts
        if not expected:
            assert run.data.tags["tuner.artifacts"] == "none: not among the best 1 when it finished"
            trial = run.data.tags["tuner.trial"]
            refused = cli("promote", "tiny", "--model", "m", "--trial", trial)
            assert refused.exit_code != 0 and "has no logged model: only trials" in refused.stderr
    assert any("tuner.artifacts" in r.data.tags for r in runs)  # the setting did skip some
    assert cli("promote", "tiny", "--model", "m").exit_code == 0  # the best always has one


def test_mixed_precision_survives_clear_session_between_trials(study_file, cli, workdir):
    path = study_file(body=FIXED.replace("max_epochs=8", "max_epochs=2"))
    assert (
        cli(
            "run",
            path,
            "--trials",
            "2",
            "--no-progress",
            "--mixed-precision",
            "--study-name",
            "mixed",
        ).exit_code
        == 0
    )
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("mixed")
    runs = client.search_runs(
        [experiment.experiment_id],
        "tags.`tuner.role` = 'trial'",
        order_by=["attributes.start_time"],
    )
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    [model_info] = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        output_format="list",
        filter_string=f"source_run_id = '{runs[-1].info.run_id}'",
    )
    model = mlflow.keras.load_model(model_info.model_uri)  # the second trial's
    policies = [layer.dtype_policy.name for layer in model.layers]
    assert policies[-2:] == ["mixed_float16", "float32"], policies
    assert all(r.data.params["mixed_precision"] == "float16" for r in runs)


def test_bfloat16_hidden_layers_without_loss_scaling(study_file, cli, workdir):
    path = study_file(
        body=FIXED.replace("max_epochs=8", "max_epochs=2").replace(
            "seed=7,", "seed=7, mixed_precision='bfloat16',"
        )
    )
    assert cli("run", path, "--trials", "1", "--no-progress").exit_code == 0
    run = only_trial(workdir, "tiny")
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{workdir}/mlruns/mlflow.db")
    [model_info] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        output_format="list",
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    model = mlflow.keras.load_model(model_info.model_uri)
    assert [layer.dtype_policy.name for layer in model.layers][-2:] == ["mixed_bfloat16", "float32"]
    assert not isinstance(model.optimizer, __import__("keras").optimizers.LossScaleOptimizer)
    assert run.data.params["mixed_precision"] == "bfloat16"
    assert run.data.metrics["final_val_accuracy"] > 0.8


def test_report_predictions_by_calling_the_model_match_keras_predict():
    from tuner.keras.training import ROWS_PER_CALL, predict

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(ROWS_PER_CALL + 17, 2))
    called = predict(model, x.astype("float32"))
    assert called.shape == (len(x), 3)  # more rows than one call takes: chunks joined in order
    np.testing.assert_allclose(called, model.predict(x, verbose=0), rtol=1e-6, atol=1e-7)


LABELS = {  # y for 2-feature rows: each task kind tuner infers
    "multiclass (uint8)": lambda x: (3 * (x[:, 0] > 0) + (x[:, 1] > 1)).astype("uint8"),
    "binary": lambda x: (x[:, 0] + x[:, 1] > 0).astype("int64"),
    "one-hot": lambda x: np.eye(3)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0)],
    "multilabel": lambda x: np.stack([x[:, 0] > 0, x[:, 1] > 0], axis=1).astype("float32"),
    "regression": lambda x: (x[:, :1] * 2 + x[:, 1:] ** 2).astype("float32"),
}


@pytest.mark.parametrize("labels", LABELS)
def test_test_split_scores_and_outputs_are_those_of_keras_evaluate_and_predict(labels):
    from tuner.data.targets import infer_task
    from tuner.keras.model import build_model, metrics_of
    from tuner.keras.training import ROWS_PER_CALL, evaluate

    keras.utils.set_random_seed(1)
    x = np.random.default_rng(1).normal(size=(ROWS_PER_CALL + 300, 2)).astype("float32")
    y = LABELS[labels](x)
    params = {
        "n_layers": 1,
        "units_0": 8,
        "activation": "relu",
        "dropout": 0.5,
        "optimizer": "adam",
        "learning_rate": 0.05,
    }
    model = build_model(params, (2,), infer_task(y), steps_per_execution=4)
    model.fit(x[:500], y[:500], epochs=1, batch_size=50, verbose=0)

    scores, outputs = evaluate(model, x, y)
    expected = model.evaluate(x, y, batch_size=1024, verbose=0, return_dict=True)
    assert scores == pytest.approx(expected, rel=1e-5)
    np.testing.assert_allclose(outputs, model.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    assert set(scores) == {"loss", *(m.name for m in metrics_of(infer_task(y)))}
    keras.backend.clear_session()


def test_training_dataset_reshuffles_every_row_each_epoch():
    x = np.arange(40, dtype="float32").reshape(20, 2)
    y = np.arange(20)
    dataset = inputs.training_dataset(x, y, batch_size=8, seed=3)
    epochs: list[np.ndarray] = []
    for _ in range(2):
        rows = [(bx.numpy(), by.numpy()) for bx, by in dataset]
        assert [len(by) for _, by in rows] == [8, 8, 4]
        xs, ys = np.concatenate([bx for bx, _ in rows]), np.concatenate([by for _, by in rows])
        np.testing.assert_array_equal(xs, x[ys])  # rows stay paired with their labels
        epochs.append(ys)
    assert sorted(epochs[0]) == sorted(epochs[1]) == list(range(20))
    assert list(epochs[0]) != list(epochs[1]) != list(range(20))
    again = [by.numpy() for _, by in inputs.training_dataset(x, y, batch_size=8, seed=3)]
    np.testing.assert_array_equal(np.concatenate(again), epochs[0])  # the seed fixes the order


def test_auto_input_pipeline_uses_datasets_for_small_training_data():
    small, large = np.zeros((800, 2), "float32"), np.zeros((2000, 784), "uint8")
    assert inputs.choose("auto", small) == "dataset"
    assert inputs.choose("auto", large) == "arrays"
    assert inputs.choose("arrays", small) == "arrays"
    assert inputs.choose("dataset", large) == "dataset"


@pytest.mark.parametrize("dropout", [0.0, 0.3])
def test_final_validation_metrics_are_those_of_the_restored_model(dropout):
    import keras

    from tuner.data.targets import infer_task
    from tuner.datasets import synthetic
    from tuner.keras.model import build_model
    from tuner.keras.training import FitPlan, fit

    data = synthetic()
    params = {
        "n_layers": 2,
        "units_0": 16,
        "units_1": 8,
        "activation": "relu",
        "dropout": dropout,
        "optimizer": "adam",
        "learning_rate": 0.05,
    }
    model = build_model(params, (2,), infer_task(data.y_train), steps_per_execution=8)
    result = fit(
        model,
        data,
        FitPlan(
            batch_size=32,
            objective="val_loss",
            direction="minimize",
            max_epochs=12,
            patience=2,
            seed=0,
        ),
    )

    assert result.best_epoch < result.epochs_trained - 1  # stopped early: weights restored
    scores = model.evaluate(data.x_val, data.y_val, batch_size=1024, verbose=0, return_dict=True)
    assert result.metrics["final_val_loss"] == pytest.approx(scores["loss"], rel=1e-6)
    assert result.metrics["final_val_accuracy"] == pytest.approx(scores["accuracy"], rel=1e-6)
    assert result.value == result.metrics["final_val_loss"]
    assert set(result.metrics) >= {"test_loss", "test_accuracy"}
    keras.backend.clear_session()


def test_short_epochs_are_sent_together_and_whatever_ends_the_trial_sends_the_rest(tmp_path):
    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "epochs", tags={})
    run_id = tracker.start_trial(0, {"batch_size": 16}, tags={})
    logger = tracker.epoch_logger(run_id)
    logger.on_train_begin()
    for epoch in range(3):  # epochs of microseconds: held
        logger.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1), "val_loss": 2.0})
    assert tracker.client.get_metric_history(run_id, "loss") == []

    logger.last_write -= logger.flush_seconds  # a second has passed: this epoch sends all
    logger.on_epoch_end(3, {"loss": 0.25, "val_loss": 2.0})
    assert [m.step for m in tracker.client.get_metric_history(run_id, "loss")] == [0, 1, 2, 3]

    logger.on_epoch_end(4, {"loss": 0.2, "val_loss": 2.0})  # held, then the trial is pruned
    tracker.end_trial(run_id, "PRUNED", metrics={"time_fit_s": 0.1})
    history = tracker.client.get_metric_history(run_id, "loss")
    assert [(m.step, m.value) for m in history] == [
        (0, 1.0),
        (1, 0.5),
        (2, 1 / 3),
        (3, 0.25),
        (4, 0.2),
    ]
    run = tracker.client.get_run(run_id)
    assert run.data.tags["tuner.state"] == "PRUNED"
    assert run.data.metrics["time_fit_s"] == 0.1


def test_a_logged_model_keeps_its_pins_without_mlflows_map_of_every_package(tmp_path, monkeypatch):
    # MLflow maps every installed package's files before checking a model's pins (0.9 s
    # of a process's first model); tuner's pins are checked by name, and the map is left
    # unbuilt for anything else in the process that infers requirements.
    monkeypatch.setattr(requirements_utils, "_MODULES_TO_PACKAGES", None)  # a new process
    monkeypatch.setattr(requirements_utils, "_PACKAGES_TO_MODULES", None)
    keras_pin = next(pin for pin in model_requirements() if pin.startswith("keras=="))
    with pins_checked_by_name():  # the check still tells a mismatch from a match
        mismatch = requirements_utils._check_requirement_satisfied("keras==0.0.1")
        assert mismatch is not None and keras_pin.endswith(mismatch.installed_version)
        assert requirements_utils._check_requirement_satisfied(keras_pin) is None

    tracker = Tracker(f"sqlite:///{tmp_path}/mlflow.db", "pins", tags={})
    run_id = tracker.start_trial(0, {"batch_size": 16}, tags={})
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="softmax")])
    x = np.zeros((4, 3), dtype="float32")
    uri = tracker.log_model(run_id, model, x, model.predict(x, verbose=0), metadata={})
    assert requirements_utils._MODULES_TO_PACKAGES is None
    pins = Path(mlflow.pyfunc.get_model_dependencies(uri)).read_text()
    assert pins.split() == [f"mlflow=={mlflow.__version__}", *model_requirements()]


@pytest.mark.slow
def test_the_parent_side_of_the_figures_process_loads_no_heavy_library():
    # `tuner run` starts the figures process before TensorFlow's import, and the study's
    # plots are drawn there: neither the start nor the training process pays for plotly.
    code = (
        "import sys, tuner.tracking.figures.report_process; "
        "print(sorted({'mlflow', 'matplotlib', 'plotly', 'tensorflow'} & set(sys.modules))); "
        "import tuner.jobs.study_run; print('plotly' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )  # this checkout's tuner
    assert done.stdout.split("\n")[:2] == ["[]", "False"]


@pytest.mark.slow
def test_the_tuner_command_skips_the_teardown_and_loses_nothing(study_file, workdir):
    # `python -m tuner.cli` is the `tuner` command's entry: after main it runs the exit
    # handlers, flushes its output and ends without Python's teardown of the libraries
    done = tuner_command(workdir, "run", study_file(), "--trials", "2", "--no-progress")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "study tiny: 2 trials (2 complete" in done.stdout  # printed last, still flushed
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{workdir}/mlruns/optuna.db")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("tiny").experiment_id])
    assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3  # the parent and 2 trials
    [parent] = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    assert "optuna_plots.html" in [a.path for a in client.list_artifacts(parent.info.run_id)]

    bad = tuner_command(workdir, "run", "missing.py")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("Error: study file missing.py does not exist")


@pytest.mark.slow
def test_the_tuner_command_searches_with_the_collector_on_and_the_libraries_frozen(
    study_file, workdir
):
    # Off while libraries are imported, then their objects frozen out of its reach and the
    # collector back on: the data loader runs in the search's process, before TensorFlow.
    body = """
        import gc, json, pathlib
        import tuner
        from tuner.datasets import synthetic

        def data():
            state = {"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}
            pathlib.Path("gc.json").write_text(json.dumps(state))
            return synthetic()

        study = tuner.Study(data=data, space=tuner.Space(n_layers=1, units=8, batch_size=32),
                            max_epochs=2)
    """
    done = tuner_command(
        workdir, "run", study_file(body=body, name="gc"), "--trials", "1", "--no-progress"
    )
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((workdir / "gc.json").read_text())
    assert state["enabled"] is True
    # the study file's libraries (tuner, Optuna, NumPy): TensorFlow loads after the data
    assert state["frozen"] > 20_000


def test_a_fit_leaves_no_traced_train_graph_alive_and_its_model_trains_on():
    import gc

    from tensorflow.python.framework import ops

    from tuner.data.targets import infer_task
    from tuner.datasets import synthetic
    from tuner.keras.model import build_model
    from tuner.keras.training import FitPlan, fit

    def train_graphs() -> int:
        gc.collect()
        return sum(
            type(o).__name__ == "FuncGraph" and o.name == "one_step_on_data"
            for o in gc.get_objects()
        )

    data = synthetic()
    params = {
        "n_layers": 1,
        "units_0": 8,
        "activation": "relu",
        "dropout": 0.0,
        "optimizer": "adam",
        "learning_rate": 0.01,
    }
    keras.backend.clear_session(free_memory=False)
    before = train_graphs()
    registered = set(ops._gradient_registry._registry)  # the registry the change empties
    for _ in range(3):
        model = build_model(params, (2,), infer_task(data.y_train), steps_per_execution=8)
        first = fit(
            model,
            data,
            FitPlan(
                batch_size=32,
                objective="val_loss",
                direction="minimize",
                max_epochs=2,
                patience=2,
                seed=0,
            ),
        )
        # as KerasTuner's Hyperband does: the same model, its traced step, trained on
        more = fit(
            model,
            data,
            FitPlan(
                batch_size=32,
                objective="val_loss",
                direction="minimize",
                max_epochs=4,
                patience=2,
                initial_epoch=2,
                seed=0,
            ),
        )
        assert more.history["loss"][-1] < first.history["loss"][0]
        del model, first, more
    assert train_graphs() == before  # without the change: 2 more for every model
    assert set(ops._gradient_registry._registry) == registered


@pytest.mark.parametrize("optimizer", ["adam", "sgd", "rmsprop", "nadam", "adamw", "float16"])
def test_a_new_model_traces_its_train_step_once_and_learns_the_same(optimizer):
    from tuner.data.targets import infer_task
    from tuner.datasets import synthetic
    from tuner.keras.model import build_model, metric
    from tuner.keras.training import FitPlan, fit

    data = synthetic()
    task = infer_task(data.y_train)
    params = {
        "n_layers": 1,
        "units_0": 8,
        "activation": "relu",
        "dropout": 0.0,
        "optimizer": "adam" if optimizer == "float16" else optimizer,
        "learning_rate": 0.01,
    }

    def trained(optimizer_built: bool) -> tuple[int, list[float]]:
        keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(0)
        model = build_model(
            params, (2,), task, steps_per_execution=8, mixed_precision=optimizer == "float16"
        )
        if not optimizer_built:  # as Keras leaves it: the optimizer made in the first step
            model.compile(
                optimizer=model.optimizer.from_config(model.optimizer.get_config()),
                loss=model.loss,
                metrics=[metric(task)],
                steps_per_execution=8,
            )
        traces = []
        train_step = model.train_step

        def counted(batch):  # runs once per trace of Keras's train function
            traces.append(1)
            return train_step(batch)

        model.train_step = counted
        result = fit(
            model,
            data,
            FitPlan(
                batch_size=32,
                objective="val_loss",
                direction="minimize",
                max_epochs=3,
                patience=3,
                seed=0,
            ),
        )
        return len(traces), result.history["val_loss"]

    built_traces, built_losses = trained(optimizer_built=True)
    deferred_traces, deferred_losses = trained(optimizer_built=False)
    assert built_traces == 1
    # tensorflow/tensorflow#48851, why build_model builds it; plain SGD has no slots to make
    assert deferred_traces == (1 if optimizer == "sgd" else 2)
    assert built_losses == pytest.approx(deferred_losses, rel=1e-6)
