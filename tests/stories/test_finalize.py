"""`tuner finalize`: ensemble selection, refit, one Keras model that loads without tuner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

from tuner import datasets
from tuner.core.study import FinalizeSettings, Study
from tuner.core.tasks import Task
from tuner.data.prepare import prepare
from tuner.keras.ensemble import scores, select, standard_error, weighted_mean
from tuner.tracking.catalog import load_study

# One small study per task kind; each loader comes from tuner.datasets.
KINDS = {
    "multiclass": "iris",
    "binary": "lambda: synthetic(n=300)",
    "multilabel": "lambda: inbox(n=400)",
    "regression": "diabetes",
}
STUDY = """
import tuner
from tuner.datasets import diabetes, inbox, iris, synthetic

study = tuner.Study(
    data={data},
    space=tuner.Space(n_layers=tuner.Int(1, 2), units=tuner.Int(4, 16, log=True),
                      learning_rate=tuner.Float(1e-2, 1e-1, log=True), batch_size=32,
                      lr_schedule=tuner.Choice(["constant", "plateau"])),
    trials={trials}, max_epochs=4, patience=2, pruner="none",
    {extra}
)
"""
# Run in a process that never imports tuner: each finalized model, loaded by its
# registry URI, against the weighted mean of its own members.
LOAD_WITHOUT_TUNER = """
import json, sys
import mlflow, numpy as np
mlflow.set_tracking_uri(sys.argv[1])
out = {}
for name, x_path in json.loads(sys.argv[2]).items():
    model_uri = f"models:/{name}@champion"
    model = mlflow.keras.load_model(model_uri)
    x = np.load(x_path)
    members = [l for l in model.layers if l.name.startswith("member_")]
    weights = [model.get_layer(f"weight_{i}").scale for i in range(len(members))]
    mean = sum(w * np.asarray(m(x)) for m, w in zip(members, weights))
    out[name] = {"members": len(members), "weights": weights,
                 "gap": float(np.abs(np.asarray(model(x)) - mean).max()),
                 "pyfunc_rows": len(mlflow.pyfunc.load_model(model_uri).predict(x))}
assert "tuner" not in sys.modules
print(json.dumps(out))
"""


def write_study(workdir, kind: str, extra: str = "", trials: int = 4) -> str:
    path = workdir / f"{kind}.py"
    path.write_text(textwrap.dedent(STUDY.format(data=KINDS[kind], extra=extra, trials=trials)))
    return str(path)


@pytest.mark.slow  # a subprocess
def test_each_task_kind_finalizes_to_one_model_that_loads_without_tuner(workdir, cli):
    uri = f"sqlite:///{workdir}/mlruns/mlflow.db"
    inputs = {}
    for kind in KINDS:
        assert cli("run", write_study(workdir, kind, trials=2), "--no-progress").exit_code == 0
        result = cli("finalize", kind, "--top", "2", "--method", "mean", "--model", f"{kind}-final")
        assert result.exit_code == 0, result.output
        assert f"study {kind}: finalized" in result.output
        assert f"models:/{kind}-final@champion" in result.output
        inputs[f"{kind}-final"] = _test_rows(kind, workdir)
        predicted = cli("predict", f"models:/{kind}-final@champion", inputs[f"{kind}-final"])
        assert predicted.exit_code == 0, predicted.output
        assert len(predicted.output.strip().splitlines()) == 1 + 20  # a header, a line a row
    done = subprocess.run(
        [sys.executable, "-c", LOAD_WITHOUT_TUNER, uri, json.dumps(inputs)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for name, found in loaded.items():
        assert found["members"] == 2, name  # the mean of the top 2 asked for
        assert found["weights"] == pytest.approx([1 / 2] * 2), name
        assert found["gap"] < 1e-5, name
        assert found["pyfunc_rows"] > 0
    client = MlflowClient(uri)
    for kind in KINDS:
        run = client.get_run(load_study(client, kind).finalized[0].run_id)
        assert run.data.tags["tuner.role"] == "finalize"
        assert run.data.params["refit"] == "True" and run.data.params["method"] == "mean"
        metric = "test_mae" if kind == "regression" else "test_accuracy"
        assert {
            metric,
            "test_loss",
            f"member_0_{metric}",
            f"best_trial_{metric}",
        } <= run.data.metrics.keys()
        artifacts = {f.path for f in client.list_artifacts(run.info.run_id)}
        figure = "predicted_vs_true.png" if kind == "regression" else "confusion_matrix.png"
        assert kind == "multilabel" or figure in artifacts, artifacts


def _test_rows(kind: str, workdir) -> str:
    """A few test rows of the kind's data, saved for the process without tuner."""
    from tuner import datasets

    data = {
        "multiclass": datasets.iris,
        "binary": lambda: datasets.synthetic(n=300),
        "multilabel": lambda: datasets.inbox(n=400),
        "regression": datasets.diabetes,
    }[kind]()
    path = workdir / f"{kind}-rows.npy"
    np.save(path, data.x_test[:20].astype("float32"))
    return str(path)


@pytest.mark.slow  # a search of many epochs or trials
def test_without_refit_the_model_is_the_weighted_mean_of_the_trials_own_models(workdir, cli):
    assert cli("run", write_study(workdir, "multiclass"), "--no-progress").exit_code == 0
    result = cli("finalize", "multiclass", "--top", "3", "--no-refit", "--method", "greedy")
    assert result.exit_code == 0, result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    mlflow.set_tracking_uri(client.tracking_uri)
    run = client.get_run(load_study(client, "multiclass").finalized[0].run_id)
    weights = [float(w) for w in run.data.params["weights"].split(", ")]
    assert sum(weights) == pytest.approx(1.0)
    members = run.data.params["member_run_ids"].split(", ")
    model = mlflow.keras.load_model(f"runs:/{run.info.run_id}/model")
    x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32") * 2 + 4
    logged = {
        m.source_run_id: m
        for m in mlflow.search_logged_models(
            experiment_ids=[run.info.experiment_id], output_format="list"
        )
    }
    trial_models = [mlflow.keras.load_model(logged[r].model_uri) for r in members]
    mean = sum(w * np.asarray(m(x)) for m, w in zip(trial_models, weights, strict=True))
    # float32 sums in another order: members with eight heads differ by about 1e-5
    np.testing.assert_allclose(np.asarray(model(x)), mean, atol=1e-4)


def test_a_study_with_one_complete_trial_refits_that_one_and_says_so(workdir, cli):
    assert (
        cli("run", write_study(workdir, "binary"), "--trials", "1", "--no-progress").exit_code == 0
    )
    result = cli("finalize", "binary")
    assert result.exit_code == 0, result.output
    assert "one COMPLETE trial with a model, refitting it alone" in result.output
    assert "finalized 1 trial(s): 0 (1.00)" in result.output


@pytest.mark.slow  # a search of many epochs or trials
def test_finalizing_twice_makes_a_new_run_and_moves_the_alias_only_when_asked(workdir, cli):
    assert cli("run", write_study(workdir, "binary"), "--no-progress").exit_code == 0
    assert cli("finalize", "binary", "--no-refit", "--model", "final").exit_code == 0
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    first = client.get_model_version_by_alias("final", "champion")
    assert cli("finalize", "binary", "--top", "2").exit_code == 0
    assert len(load_study(client, "binary").finalized) == 2
    assert client.get_model_version_by_alias("final", "champion").version == first.version
    promoted = cli("promote", "binary", "--model", "final", "--finalized")
    assert promoted.exit_code == 0, promoted.output
    moved = client.get_model_version_by_alias("final", "champion")
    assert moved.version != first.version
    assert moved.tags["tuner.role"] == "finalize"
    assert moved.run_id == load_study(client, "binary").finalized[0].run_id
    shown = cli("show", "binary").output
    assert "finalized: trials" in shown and "(refit)" in shown
    assert "finalized" in cli("ls").output


def test_a_study_can_finalize_at_the_end_of_tuner_run(workdir, cli):
    path = write_study(workdir, "binary", extra='finalize={"top": 2, "refit": False},')
    result = cli("run", path, "--no-progress")
    assert result.exit_code == 0, result.output
    assert "study binary: finalized" in result.output
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    run = client.get_run(load_study(client, "binary").finalized[0].run_id)
    assert run.data.params["top"] == "2" and run.data.params["refit"] == "False"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["finalize", "nothing-here"], "no study named 'nothing-here'"),
        (["finalize", "tiny", "--top", "0"], "--top"),
        (["finalize", "tiny", "--method", "vote"], "--method"),
    ],
)
def test_bad_finalize_input_gives_one_line_and_exit_2(searched_tiny, cli, args, message):
    result = cli(*args)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"top": 0}, "finalize top"),
        ({"method": "vote"}, "finalize method"),
        ({"folds": 2}, "unknown setting 'folds'"),
        ({"budget": -1}, "finalize budget"),
        ("yes", "finalize: expected True"),
    ],
)
def test_bad_finalize_settings_are_refused_when_the_study_is_built(setting, message):
    from tuner.core.errors import StudyConfigError

    with pytest.raises(StudyConfigError, match=message):
        Study(data=lambda: None, finalize=setting)


def test_greedy_selection_picks_with_replacement_and_mean_weighs_equally():
    task = Task("multiclass", 2)
    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    bad = 1 - good
    outputs = [good * 0.9 + 0.05, good, bad]
    by_loss = select(outputs, lambda o: scores(task, y, o)["loss"], maximize=False, method="greedy")
    assert by_loss[2] == 0 and by_loss.sum() == pytest.approx(1.0)
    assert by_loss[1] > 0.5  # the sharper of the two right ones, picked again and again
    by_accuracy = select(
        outputs, lambda o: scores(task, y, o)["accuracy"], maximize=True, method="greedy"
    )
    assert list(by_accuracy) == [1, 0, 0]  # ties go to the better-ranked candidate
    assert list(select(outputs, len, maximize=True, method="mean")) == [1 / 3] * 3


def test_best_k_and_greedy_never_choose_below_the_best_candidate_on_their_data():
    """A weak third member drags the plain mean below the best trial alone; best-k and
    greedy (kept at its best round) never score below it on the outputs they choose on."""
    rng = np.random.default_rng(0)
    task = Task("multiclass", 3)
    y = rng.integers(0, 3, 2000)
    truth = np.eye(3)[y]

    def member(skill: float, labels: np.ndarray = truth) -> np.ndarray:
        noisy = skill * labels + rng.random((2000, 3))
        return (noisy / noisy.sum(axis=1, keepdims=True)).astype("float32")

    confidently_wrong = member(1.0, np.eye(3)[rng.integers(0, 3, 2000)])  # cut short, say
    outputs = [member(0.3), member(0.28), confidently_wrong]  # best first, as ranked
    accuracy = lambda o: scores(task, y, o)["accuracy"]  # noqa: E731
    best_alone = accuracy(outputs[0])
    plain = weighted_mean(outputs, select(outputs, accuracy, maximize=True, method="mean"))
    assert accuracy(plain) < best_alone
    for method in ("best-k", "greedy"):
        weights = select(outputs, accuracy, maximize=True, method=method)
        assert weights.sum() == pytest.approx(1.0)
        assert accuracy(weighted_mean(outputs, weights)) >= best_alone, method
    assert list(select(outputs, accuracy, maximize=True, method="best-k")) == [0.5, 0.5, 0.0]
    lone = [outputs[0], outputs[2]]  # nothing beats the best alone: k = 1
    assert list(select(lone, accuracy, maximize=True, method="best-k")) == [1.0, 0.0]


def test_the_choices_standard_error_is_the_bootstrap_spread_of_its_score():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 4000)
    right = rng.random(4000) < 0.9  # 90 % accuracy
    outputs = np.where(right, y, 1 - y).astype("float32")
    error = standard_error(lambda t, o: float(np.mean(t == o)), y, outputs, resamples=200)
    assert error == pytest.approx(np.sqrt(0.9 * 0.1 / 4000), rel=0.25)


def test_refits_that_would_pass_the_budget_keep_their_trained_weights():
    from tuner.jobs.finalize import Candidate, refit_estimate, refit_plan
    from tuner.tracking.catalog import TrialRecord

    prepared = prepare(Study(data=lambda: datasets.synthetic(n=500), name="plan"))
    rows = len(prepared.data.x_train)
    scale = (rows + len(prepared.data.x_val)) / rows

    def candidate(number: int, epochs: int, per_epoch: float) -> Candidate:
        trial = TrialRecord(
            number, "COMPLETE", 0.9, {}, epochs, f"run{number}", False, "optuna", ""
        )
        metrics = {"best_epoch": epochs - 1, "time_epoch_s": per_epoch, "time_trace_s": 1.0}
        return Candidate(trial, f"runs:/run{number}/model", metrics, np.zeros(1))

    quick, slow, small = candidate(0, 10, 2.0), candidate(1, 40, 10.0), candidate(2, 5, 1.0)
    assert refit_estimate(quick, prepared) == pytest.approx(10 * 2.0 * scale + 1.0)
    budget = FinalizeSettings(budget=100)
    assert refit_plan([quick, slow, small], prepared, budget) == [True, False, True]
    assert refit_plan([quick, slow], prepared, FinalizeSettings(budget=None)) == [True, True]
    assert refit_plan([quick], prepared, FinalizeSettings(refit=False)) == [False]


def start_finalize_and_wait_for_its_run(workdir, cli):
    """A finalize of a study whose refit takes seconds, once its run exists."""
    path = workdir / "long.py"
    path.write_text(
        textwrap.dedent(
            STUDY.format(data="lambda: synthetic(n=20000)", extra="", trials=2).replace(
                "max_epochs=4, patience=2", "max_epochs=12, patience=12"
            )
        )
    )
    assert cli("run", path, "--no-progress").exit_code == 0
    process = subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", "finalize", "long"],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    client = MlflowClient(f"sqlite:///{workdir}/mlruns/mlflow.db")
    experiment = client.get_experiment_by_name("long").experiment_id
    for _ in range(600):
        running = client.search_runs([experiment], "tags.`tuner.role` = 'finalize'")
        if running:
            return process, client, experiment, running[0].info.run_id
        time.sleep(0.1)
    raise AssertionError(process.communicate()[0][-2000:])


@pytest.mark.slow
def test_ctrl_c_during_finalize_ends_its_run_killed_and_exits_130(workdir, cli):
    process, client, experiment, run_id = start_finalize_and_wait_for_its_run(workdir, cli)
    time.sleep(1)  # into the refit
    process.send_signal(signal.SIGINT)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output[-2000:]
    assert "the finalize run was ended KILLED" in output
    assert client.get_run(run_id).info.status == "KILLED"
    assert not client.search_runs([experiment], "attributes.status = 'RUNNING'")


@pytest.mark.slow
def test_a_killed_finalize_leaves_no_run_running_after_the_next_command(workdir, cli):
    process, client, experiment, run_id = start_finalize_and_wait_for_its_run(workdir, cli)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    before = {r.info.run_id: r.info.status for r in client.search_runs([experiment])}
    assert process.returncode == -signal.SIGKILL
    assert before[run_id] == "RUNNING"
    assert cli("finalize", "long", "--top", "1", "--no-refit").exit_code == 0
    after = {r.info.run_id: r.info.status for r in client.search_runs([experiment])}
    assert after[run_id] == "KILLED"
    assert "RUNNING" not in after.values()
    assert all(after[r] == before[r] for r in before if r != run_id)  # the trials untouched
