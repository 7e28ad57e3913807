"""Fast settings change how a trial runs, not what it learns."""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

from tuner.model import compile_options

FIXED = """
import tuner
from tuner.datasets import synthetic

study = tuner.Study(
    data=synthetic,
    space=tuner.Space(n_layers=1, units=16, learning_rate=0.01, batch_size=16,
                      optimizer="adam"),
    max_epochs=8, patience=8, seed=7,
)
"""


def only_trial(workdir, name: str):
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(name)
    [run] = client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")
    return run


def test_fast_settings_reach_the_accuracy_of_keras_defaults(study_file, cli, workdir):
    path = study_file(body=FIXED)
    fast = cli("run", path, "--trials", "1", "--no-progress", "--study-name", "fast")
    plain = cli("run", path, "--trials", "1", "--no-progress", "--study-name", "plain",
                "--steps-per-execution", "1", "--jit-compile", "off")

    assert fast.exit_code == 0 and plain.exit_code == 0, fast.output + plain.output
    fast_run, plain_run = only_trial(workdir, "fast"), only_trial(workdir, "plain")
    assert fast_run.data.params["steps_per_execution"] == "64"
    assert plain_run.data.params["steps_per_execution"] == "1"
    assert fast_run.data.params["jit_compile"] == plain_run.data.params["jit_compile"] == "False"
    assert fast_run.data.metrics["final_val_accuracy"] == pytest.approx(
        plain_run.data.metrics["final_val_accuracy"], abs=0.02)
    for phase in ("build", "fit", "evaluate", "report", "model"):
        assert fast_run.data.metrics[f"time_{phase}_s"] > 0


@pytest.mark.parametrize(("batch_size", "expected"), [(32, 32), (128, 8), (512, 2), (2048, 1)])
def test_auto_runs_about_1024_samples_per_call(batch_size, expected):
    assert compile_options(batch_size, "auto", False)["steps_per_execution"] == expected
    assert compile_options(batch_size, 3, True) == {"steps_per_execution": 3, "jit_compile": True}


def test_bad_steps_per_execution_is_a_usage_error(study_file, cli):
    result = cli("run", study_file(), "--steps-per-execution", "many")
    assert result.exit_code == 2
    assert "--steps-per-execution: expected a number > 0 or auto" in result.stderr
