"""Nothing lost: kill -9 and resume, Ctrl-C, failure streaks, several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import keras
import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import TINY_STUDY
from tuner.core.studyfile import load_study_file
from tuner.core.tasks import Task
from tuner.data.prepare import prepare
from tuner.engines.trial import TrainingPlan, TrialRunner
from tuner.tracking.figures import report_process
from tuner.tracking.figures.report import ReportInputs
from tuner.tracking.figures.report_process import ReportQueue
from tuner.tracking.figures.study_plots import StudyPlotsInputs
from tuner.tracking.runs import Tracker

# Slow enough trials (a few seconds each) to be caught in the middle of one.
SLOW = (
    TINY_STUDY.format(extra='pruner="none",')  # trials end COMPLETE or killed
    .replace("max_epochs=4", "max_epochs=15")
    .replace("patience=2", "patience=15")
    .replace("synthetic(n=300)", "synthetic(n=1200)")
    .replace("batch_size=32", "batch_size=8")
)


def tuner(*args: str, new_session: bool = False) -> subprocess.Popen:
    """``tuner`` in a subprocess; ``new_session``: in a process group of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "tuner.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=new_session,
    )


def wait_for(process: subprocess.Popen, predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def states(storage: str) -> list[str]:
    """Trial states, read-only: polling must not race the run creating its tables."""
    path = storage.removeprefix("sqlite:///")
    try:
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return [row[0] for row in db.execute("SELECT state FROM trials ORDER BY number")]
    except sqlite3.OperationalError:  # no file, or no tables yet
        return []


def all_runs(uri: str) -> list:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("tiny")
    return client.search_runs([experiment.experiment_id], "")


@pytest.fixture
def stores(workdir: Path) -> tuple[str, str]:
    return f"sqlite:///{workdir}/mlruns/mlflow.db", f"sqlite:///{workdir}/mlruns/optuna.db"


@pytest.mark.slow
def test_kill_9_mid_trial_then_an_immediate_rerun_fails_it_and_loses_nothing(study_file, stores):
    uri, storage = stores
    path = str(study_file(body=SLOW))
    first = tuner("run", path, "--trials", "6", "--no-progress")
    wait_for(
        first,
        lambda: states(storage)[-1:] == ["RUNNING"] and states(storage).count("COMPLETE") >= 2,
    )
    time.sleep(1)  # into the trial's training, its MLflow run open
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    before = {
        r.info.run_id: r for r in all_runs(uri) if r.data.tags.get("tuner.state") == "COMPLETE"
    }
    killed_number = len(states(storage)) - 1
    killed_params = optuna.load_study(study_name="tiny", storage=storage).trials[-1].params
    # Reading the study ends the dead process's runs at once.
    shown = tuner("show", "tiny")
    assert shown.communicate(timeout=120) and shown.returncode == 0
    assert [r.info.status for r in all_runs(uri) if r.info.status == "RUNNING"] == []

    # At once, long before a heartbeat goes stale (60 s): its owner is gone.
    second = tuner("run", path, "--trials", "2", "--no-progress", "--retry-failed", "1")
    out, err = second.communicate(timeout=300)

    assert second.returncode == 0, err
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert study.trials[killed_number].state.name == "FAIL"
    assert [t.state.name for t in study.trials].count("COMPLETE") == len(before) + 2
    retried = [t for t in study.trials if t.system_attrs.get("failed_trial") == killed_number]
    assert len(retried) == 1 and killed_params.items() <= retried[0].params.items()
    assert retried[0].user_attrs["retry_of"] == killed_number
    runs = all_runs(uri)
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    after = {r.info.run_id: r for r in runs}
    for run_id, run in before.items():
        assert after[run_id].data.metrics == run.data.metrics
        assert after[run_id].data.params == run.data.params
    killed = [r for r in runs if r.data.tags.get("tuner.trial") == str(killed_number)]
    assert [r.info.status for r in killed] == ["KILLED"]
    assert killed[0].data.tags["tuner.state"] == "FAIL"
    assert killed[0].data.tags["tuner.fail_reason"] == "its process ended"
    first_parent = killed[0].data.tags["mlflow.parentRunId"]
    assert after[first_parent].info.status == "KILLED"
    print(
        f"\nkill -9: {len(before)} complete before, {len(before)} kept after, "
        f"0 RUNNING runs left, trial {killed_number} FAIL and retried"
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop", "to_group", "status", "reason"),
    [
        (signal.SIGINT, True, 130, "interrupted"),  # Ctrl-C: a terminal signals the group
        (signal.SIGTERM, False, 143, "stopped by SIGTERM"),  # Kubernetes, systemd, Slurm
        (signal.SIGHUP, False, 129, "stopped by SIGHUP"),  # the terminal closed
    ],
)
def test_ctrl_c_or_a_stop_signal_records_the_trial_closes_the_parent_and_exits(
    study_file, stores, stop, to_group, status, reason
):
    uri, storage = stores
    process = tuner(
        "run", str(study_file(body=SLOW)), "--trials", "5", "--no-progress", new_session=True
    )
    wait_for(process, lambda: states(storage)[-1:] == ["RUNNING"] and "COMPLETE" in states(storage))
    time.sleep(1)
    if to_group:
        os.killpg(process.pid, stop)
    else:
        os.kill(process.pid, stop)
    out, err = process.communicate(timeout=60)

    assert process.returncode == status, err
    last = [line for line in err.splitlines() if line.strip()][-1]
    assert last.startswith(f"{reason}: ") and "run the same command to continue" in last
    assert states(storage)[-1] == "FAIL"
    runs = all_runs(uri)
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    [parent] = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    assert parent.info.status == "KILLED"
    interrupted = [r for r in runs if r.data.tags.get("tuner.fail_reason") == "interrupted"]
    assert [r.info.status for r in interrupted] == ["KILLED"]
    complete = [r for r in runs if r.data.tags.get("tuner.state") == "COMPLETE"]
    assert complete
    for run in complete:  # the figures process did not take the Ctrl-C
        names = {a.path for a in MlflowClient(uri).list_artifacts(run.info.run_id)}
        assert "learning_curves.png" in names, names


STOPS_IN_OPTUNA = """
import os, signal
import optuna

class StopsHere(optuna.samplers.RandomSampler):
    # A stop signal from inside Optuna's ask (before_trial) or tell (after_trial, before
    # the trial's state is written).
    def before_trial(self, study, trial):
        if {hook!r} == "before_trial" and trial.number == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        super().before_trial(study, trial)

    def after_trial(self, study, trial, state, values):
        if {hook!r} == "after_trial" and trial.number == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        super().after_trial(study, trial, state, values)
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("hook", "recorded"), [("before_trial", ["COMPLETE", "FAIL"]), ("after_trial", ["COMPLETE"])]
)
def test_a_stop_inside_optunas_ask_or_tell_leaves_no_trial_running(
    study_file, stores, hook, recorded
):
    uri, storage = stores
    body = STOPS_IN_OPTUNA.format(hook=hook) + TINY_STUDY.format(
        extra='sampler=StopsHere(seed=0), portfolio=False, pruner="none",'
    )
    process = tuner("run", str(study_file(body=body)), "--trials", "4", "--no-progress")
    out, err = process.communicate(timeout=300)

    assert process.returncode == 143, err
    assert err.strip().splitlines()[-1].startswith("stopped by SIGTERM: ")
    assert states(storage) == recorded  # the trial asked for is FAIL, none RUNNING
    runs = all_runs(uri)
    assert [r for r in runs if r.info.status == "RUNNING"] == []
    assert [r.data.tags["tuner.state"] for r in runs if r.data.tags["tuner.role"] == "trial"] == [
        "COMPLETE"
    ]
    [parent] = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    assert parent.info.status == "KILLED"


@pytest.mark.slow
def test_a_full_disk_ends_the_run_in_one_line_and_the_study_resumes_once_freed(workdir):
    small = workdir / "small"
    small.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a small tmpfs for the stores needs root to mount")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=5m", "tmpfs", str(small)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        # Every trial logs its model and figures, so the 5 MB fill within a few dozen.
        (small / "tiny.py").write_text(
            textwrap.dedent(TINY_STUDY.format(extra="artifacts_for_top=None, portfolio=False,"))
        )
        full = subprocess.run(
            [
                sys.executable,
                "-m",
                "tuner.cli",
                "run",
                "tiny.py",
                "--trials",
                "300",
                "--no-progress",
            ],
            cwd=small,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert full.returncode == 2, full.stderr[-3000:]
        last = full.stderr.strip().splitlines()[-1]
        assert (
            last.startswith("Error: a store refused a write (")
            and "run the same command to continue" in last
        )
        assert "Traceback" not in full.stderr
        storage = f"sqlite:///{small}/mlruns/optuna.db"
        complete = states(storage).count("COMPLETE")
        finished = complete + states(storage).count("PRUNED")
        assert complete >= 1

        subprocess.run(["mount", "-o", "remount,size=256m", str(small)], check=True)
        again = subprocess.run(
            [
                sys.executable,
                "-m",
                "tuner.cli",
                "run",
                "tiny.py",
                "--trials",
                "2",
                "--no-progress",
                "--stale-after",
                "5",
            ],
            cwd=small,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert again.returncode == 0, again.stderr[-3000:]
        after = states(storage)
        assert after.count("COMPLETE") >= complete  # kept
        assert after.count("COMPLETE") + after.count("PRUNED") == finished + 2
        assert "RUNNING" not in after
        runs = all_runs(f"sqlite:///{small}/mlruns/mlflow.db")
        assert [r.info.run_name for r in runs if r.info.status == "RUNNING"] == []
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


def test_a_store_refusing_a_write_on_another_thread_prints_one_line():
    """Optuna's heartbeat thread meeting a full disk: one line, not a traceback; any
    other error of a thread keeps Python's traceback."""
    code = textwrap.dedent("""
        import sqlite3, threading
        from tuner.runtime.stores import report_store_failures_of_threads
        report_store_failures_of_threads()
        report_store_failures_of_threads()  # once is enough: no second line
        def full():
            raise sqlite3.OperationalError("database or disk is full")
        def bug():
            raise ValueError("a bug")
        for target, name in ((full, "heartbeat"), (bug, "other")):
            thread = threading.Thread(target=target, name=name)
            thread.start()
            thread.join()
        """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = done.stderr.strip().splitlines()
    warnings = [line for line in lines if line.startswith("Warning: a store refused")]
    assert warnings == [
        "Warning: a store refused a write on heartbeat (database or disk is full)"
    ], done.stderr
    assert done.stderr.count("Traceback") == 1 and "ValueError: a bug" in done.stderr


def test_study_stops_after_failures_in_a_row(study_file, cli):
    text = study_file().read_text()
    text = text.replace("learning_rate=tuner.Float(1e-2, 1e-1, log=True)", "learning_rate=1e30")
    text = text.replace('optimizer=tuner.Choice(["adam", "nadam"])', 'optimizer="sgd"')
    (Path.cwd() / "tiny.py").write_text(text)
    result = cli("run", "tiny.py", "--trials", "6", "--max-failures", "2", "--no-progress")

    assert result.exit_code == 2, result.output
    assert "stopped after 2 failed trials in a row (last: training loss became NaN" in (
        result.stderr
    )
    assert states(f"sqlite:///{Path.cwd()}/mlruns/optuna.db") == ["FAIL", "FAIL"]


@pytest.mark.slow
def test_two_workers_share_one_study_without_duplicates(study_file, cli, stores):
    uri, storage = stores
    result = cli(
        "run",
        study_file(),
        "--trials",
        "4",
        "--workers",
        "2",
        "--steps-per-execution",
        "3",
        "--mixed-precision",
        "bfloat16",
        "--input-pipeline",
        "arrays",
    )

    assert result.exit_code == 0, result.output
    study = optuna.load_study(study_name="tiny", storage=storage)
    assert sorted(t.number for t in study.trials) == [0, 1, 2, 3]
    runs = all_runs(uri)
    [parent] = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    trial_runs = [r for r in runs if r.data.tags["tuner.role"] == "trial"]
    assert sorted(int(r.data.tags["tuner.trial"]) for r in trial_runs) == [0, 1, 2, 3]
    assert {r.data.tags["mlflow.parentRunId"] for r in trial_runs} == {parent.info.run_id}
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {
        r.info.run_id for r in trial_runs
    }
    assert parent.info.status == "FINISHED"
    # the coordinator's options reached each worker, which reads the study file again
    assert {
        (
            r.data.params["steps_per_execution"],
            r.data.params["mixed_precision"],
            r.data.params["input_pipeline"],
        )
        for r in trial_runs
    } == {("3", "bfloat16", "arrays")}
    assert "4 trials (4 complete" in result.stdout or "4 trials (3 complete" in result.stdout


class CtrlCTurnedIntoAnotherError(keras.callbacks.Callback):
    """What TensorFlow's C++ code did with a Ctrl-C that arrived while it traced."""

    def on_epoch_end(self, epoch, logs=None):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)  # Python runs the SIGINT handler here
        except KeyboardInterrupt:
            raise SystemError(
                "Objects/listobject.c:338: bad argument to internal function"
            ) from None


def test_ctrl_c_that_a_library_turned_into_another_error_still_interrupts(workdir):
    study = load_study_file(Path(__file__).parents[2] / "studies" / "synthetic.py")
    prepared = prepare(study)
    uri = f"sqlite:///{workdir}/mlflow.db"
    runner = TrialRunner(prepared, Tracker(uri, study.name, {}))
    params = {
        "n_layers": 1,
        "units_0": 4,
        "learning_rate": 0.01,
        "batch_size": 64,
        "optimizer": "adam",
        "activation": "relu",
        "dropout": 0.0,
    }
    run_id = runner.start(0, params, {})

    with pytest.raises(KeyboardInterrupt):
        runner.train(run_id, 0, params, TrainingPlan(callbacks=[CtrlCTurnedIntoAnotherError()]))
    runner.finish()

    run = MlflowClient(uri).get_run(run_id)
    assert run.info.status == "KILLED" and run.data.tags["tuner.fail_reason"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def two_row_report() -> ReportInputs:
    """What the figures of a two-row binary trial need."""
    return ReportInputs(
        Task("binary", 1),
        {"loss": [0.5], "val_loss": [0.6]},
        0,
        "validation",
        np.zeros((1, 2)),
        np.array([0, 1]),
        np.array([[0.2], [0.9]]),
        None,
    )


def test_figures_that_cannot_be_logged_are_a_warning_naming_the_run(workdir, caplog):
    uri = f"sqlite:///{workdir}/mlflow.db"
    Tracker(uri, "figures", {})  # the store exists; the run id below does not
    queue = ReportQueue(uri)
    inputs = two_row_report()
    queue.submit("no-such-run", inputs)
    queue.finish()
    assert "figures of run no-such-run not logged" in caplog.text


def test_the_figures_process_draws_the_plots_of_a_study_it_cannot_open(workdir, caplog):
    uri = f"sqlite:///{workdir}/mlflow.db"
    tracker = Tracker(uri, "plots", {})
    ostudy = optuna.create_study(study_name="in-memory")  # as KerasTuner's view: no storage
    ostudy.optimize(lambda trial: trial.suggest_float("x", 0, 1) ** 2, n_trials=4)
    queue = ReportQueue(uri)
    queue.submit(tracker.parent_run_id, StudyPlotsInputs.of(ostudy))
    queue.submit("no-such-run", StudyPlotsInputs.of(ostudy))
    queue.finish()

    page = Path(
        tracker.client.download_artifacts(tracker.parent_run_id, "optuna_plots.html", str(workdir))
    ).read_text()
    assert "<h2>Optimization history</h2>" in page and "<p>not available" not in page
    assert "figures of run no-such-run not logged" in caplog.text


def test_a_dead_figures_process_is_replaced_and_the_study_does_not_wait_for_it(workdir, caplog):
    uri = f"sqlite:///{workdir}/mlflow.db"
    tracker = Tracker(uri, "figures", {})
    params = {"units_0": 4}
    runs = [tracker.start_trial(number, params, {}) for number in range(3)]
    inputs = two_row_report()
    queue = ReportQueue(uri)
    queue.submit(runs[0], inputs)
    queue.submit(runs[1], inputs)
    report_process._child.process.kill()
    report_process._child.process.wait()
    queue.submit(runs[2], inputs)  # to a new process
    queue.finish()

    assert "the figures process stopped; starting another" in caplog.text
    assert "learning_curves.png" in {a.path for a in tracker.client.list_artifacts(runs[2])}
    for run_id in runs[:2]:  # logged before the kill, or a warning says they were not
        logged = {a.path for a in tracker.client.list_artifacts(run_id)}
        assert (
            "learning_curves.png" in logged or f"figures of run {run_id} not logged" in caplog.text
        )


def _process_state(pid: int) -> str | None:
    """Linux's one-letter state of a process (Z: exited, not yet reaped), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


@pytest.mark.slow
def test_a_script_without_main_guard_runs_once_and_its_figures_process_ends_with_it(
    study_file, workdir
):
    """The figures process must not import the user's script again, nor outlive it."""
    script = workdir / "search.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys, time
        print("script started", flush=True)
        from tuner.core.options import RunOptions, SearchContext
        from tuner.jobs.study_run import run_study
        from tuner.core.studyfile import load_study_file
        from tuner.tracking.figures import report_process
        run_study(load_study_file({str(study_file())!r}), SearchContext(
            options=RunOptions(trials=1), tracking_uri="sqlite:///{workdir}/mlflow.db",
            storage="sqlite:///{workdir}/optuna.db"))
        print("figures process", report_process._child.process.pid, flush=True)
        time.sleep(60)
    """)
    )
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    lines = []
    while not (lines and lines[-1].startswith("figures process")):
        line = process.stdout.readline()
        assert line, "the script ended early"
        lines.append(line.strip())
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    assert lines.count("script started") == 1
    child = int(lines[-1].split()[-1])
    deadline = time.monotonic() + 10
    while _process_state(child) not in (None, "Z"):
        assert time.monotonic() < deadline, "the figures process outlived its parent"
        time.sleep(0.1)
    client = MlflowClient(f"sqlite:///{workdir}/mlflow.db")
    [run] = client.search_runs(
        [client.get_experiment_by_name("tiny").experiment_id], "tags.`tuner.role` = 'trial'"
    )
    assert "learning_curves.png" in {a.path for a in client.list_artifacts(run.info.run_id)}


SECOND_STOP = """
import os, signal, sys, time
from tuner.runtime import interrupts
interrupts.stop_on_signals()
try:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)
except interrupts.SignalStop as stop:
    print("first:", stop.signum, interrupts.exit_status(), interrupts.stop_reason(), flush=True)
os.kill(os.getpid(), signal.SIGTERM)  # while the first is being handled: out at once
time.sleep(5)
print("not reached", flush=True)
"""


@pytest.mark.slow  # a subprocess
def test_a_first_stop_signal_raises_and_a_second_ends_the_process_at_once():
    done = subprocess.run(
        [sys.executable, "-c", SECOND_STOP], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 143, done.stderr
    assert done.stdout.splitlines() == ["first: 15 143 stopped by SIGTERM"]


@pytest.mark.slow
def test_a_worker_reads_its_settings_on_stdin_so_no_password_is_on_its_command_line(workdir):
    from tuner.core.options import RunOptions, SearchContext
    from tuner.jobs.coordinator import start_worker

    secret = "postgresql://user:SECRET@127.0.0.1:9/db"
    context = SearchContext(options=RunOptions(trials=1), storage=secret, tracking_uri=secret)
    worker = start_worker(
        {"study_file": str(workdir / "missing.py"), "overrides": {}, "context": context.as_json()},
        dict(os.environ),
    )
    command_line = b""
    for _ in range(100):  # empty until the new process has exec'd its program
        command_line = Path(f"/proc/{worker.pid}/cmdline").read_bytes()
        if b"tuner" in command_line:
            break
        time.sleep(0.05)
    assert worker.wait(timeout=120) == 2
    assert b"SECRET" not in command_line and b"tuner.jobs.worker" in command_line
