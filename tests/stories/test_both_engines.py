"""One contract, both engines, end to end: the same study logs the same things and promotes.

The engine-level contract (params, outcome, failure streaks) runs in
milliseconds in ``tests/engines/test_contract.py``; here each engine searches
once through the command line, MLflow and the registry.
"""

from __future__ import annotations

import pytest
from mlflow.tracking import MlflowClient

ENGINES = {"optuna": [], "keras-tuner": ["--engine", "keras-tuner", "--algorithm", "random"]}
TRIAL_TAGS = {
    "tuner.study",
    "tuner.role",
    "tuner.trial",
    "tuner.state",
    "tuner.engine",
    "mlflow.parentRunId",
}
FINAL_METRICS = {
    "trial_value",
    "final_val_accuracy",
    "final_val_loss",
    "best_epoch",
    "epochs_trained",
    "n_parameters",
    "time_fit_s",
    "time_build_s",
}


def trial_runs(workdir, study: str) -> list:
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name(study)
    return client.search_runs([experiment.experiment_id], "tags.`tuner.role` = 'trial'")


@pytest.mark.parametrize("engine", list(ENGINES))
def test_every_engine_logs_the_space_settings_metrics_and_tags_and_promotes(
    engine, study_file, cli, workdir
):
    result = cli("run", study_file(), "--trials", "2", "--no-progress", *ENGINES[engine])
    assert result.exit_code == 0, result.output
    runs = trial_runs(workdir, "tiny")
    assert len(runs) == 2
    for run in runs:
        params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
        # every dimension of the space and every trial setting, whichever engine drew it
        assert {
            "n_layers",
            "units_0",
            "learning_rate",
            "batch_size",
            "optimizer",
            "momentum",
            "weight_decay",
            "lr_schedule",
            "activation",
            "normalization",
            "dropout",
            "label_smoothing",
            "kernel_initializer",
            "objective",
            "direction",
            "max_epochs",
            "patience",
            "seed",
            "steps_per_execution",
            "jit_compile",
            "mixed_precision",
            "input_pipeline",
            "artifacts_for_top",
            "validation_batch_size",
        } <= params.keys()
        assert metrics.keys() >= FINAL_METRICS
        assert tags.keys() >= TRIAL_TAGS
        assert tags["tuner.engine"] == engine and tags["tuner.state"] == "COMPLETE"
        assert run.info.status == "FINISHED"
    promoted = cli("promote", "tiny", "--model", f"{engine}-mlp")
    assert promoted.exit_code == 0, promoted.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    version = client.get_model_version_by_alias(f"{engine}-mlp", "champion")
    assert version.tags["tuner.study"] == "tiny"


def test_a_failing_trial_is_recorded_fail_and_the_streak_stops_the_study(study_file, cli, workdir):
    # a learning rate this large makes the loss infinite in the first epoch
    path = (
        study_file()
        .read_text()
        .replace("learning_rate=tuner.Float(1e-2, 1e-1, log=True)", "learning_rate=1e30")
    )
    (workdir / "tiny.py").write_text(path)
    result = cli(
        "run", workdir / "tiny.py", "--trials", "2", "--max-failures", "2", "--no-progress"
    )
    assert result.exit_code == 2, result.output
    assert "stopped after" in result.stderr and "failed trials in a row" in result.stderr
    assert "raise --max-failures" in result.stderr  # the flag, not the keyword
    runs = trial_runs(workdir, "tiny")
    assert runs and {r.data.tags["tuner.state"] for r in runs} == {"FAIL"}
    assert all(r.info.status == "FAILED" and r.data.tags["tuner.fail_reason"] for r in runs)
