"""Workers and their coordinator: stopped together however the coordinator was started or
died, a killed worker reported and replaced, no more workers than trials or memory allow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.stories.test_reliability import SLOW, all_runs, states, wait_for
from tuner.core.errors import StudyConfigError
from tuner.jobs.coordinator import shares, worker_env
from tuner.runtime.machine import WORKER_MEMORY_BYTES, check_capacity


def coordinator(path: Path, *args: str, ignore_sigint: bool = False) -> subprocess.Popen:
    """``tuner run PATH --workers 2`` as a script or scheduler starts it: in the background,
    with SIGINT ignored where ``ignore_sigint`` (``&`` in a non-interactive shell)."""

    def ignore() -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuner.cli",
            "run",
            str(path),
            "--workers",
            "2",
            "--no-progress",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=ignore if ignore_sigint else None,
    )


def training(
    study: tuple[Path, str, str], trials: int, **options: bool
) -> tuple[subprocess.Popen, list[int]]:
    """A coordinator of ``trials`` trials once both its workers train one; its workers."""
    path, _, storage = study
    run = coordinator(path, "--trials", str(trials), **options)
    wait_for(run, lambda: states(storage).count("RUNNING") == 2)
    return run, workers_of(run.pid)


def started_trials_running(storage: str) -> list[int]:
    """Optuna trials left RUNNING that had begun (hold an MLflow run). A trial Optuna's
    ``ask`` had just made when the stop landed, before our objective ran, is not one:
    it fails by its heartbeat or the next run."""
    import optuna

    return [
        t.number
        for t in optuna.load_study(study_name="tiny", storage=storage).trials
        if t.state.name == "RUNNING" and "mlflow_run_id" in t.user_attrs
    ]


def workers_of(pid: int) -> list[int]:
    """The live ``tuner.jobs.worker`` processes whose parent is ``pid`` (or init, orphaned)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError, ValueError):
            continue
        if b"tuner.jobs.worker" in command and state != "Z" and parent in (pid, 1):
            found.append(int(entry.name))
    return found


def wait_until_gone(pids: list[int], seconds: float = 60) -> float:
    started = time.monotonic()
    while any(
        Path(f"/proc/{p}").exists()
        and "Z" not in Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0]
        for p in pids
        if Path(f"/proc/{p}/stat").exists()
    ):
        assert time.monotonic() - started < seconds, f"workers {pids} still run"
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def slow_study(study_file, workdir) -> tuple[Path, str, str]:
    path = study_file(body=SLOW)
    return (path, f"sqlite:///{workdir}/mlruns/mlflow.db", f"sqlite:///{workdir}/mlruns/optuna.db")


def test_no_more_workers_than_trials_and_memory_allow():
    assert shares(1, 3) == [1]
    assert shares(5, 2) == [3, 2]
    assert shares(None, 2) == [None, None]
    check_capacity(2, 4 * WORKER_MEMORY_BYTES)
    with pytest.raises(
        StudyConfigError,
        match=r"^workers: 1000 workers need about .* GiB of "
        r"memory .* use at most 4$",
    ):
        check_capacity(1000, 4 * WORKER_MEMORY_BYTES)


def test_each_worker_gets_its_share_of_the_cores_and_one_gpu_round_robin():
    envs = [worker_env(i, 3, ["0", "1"]) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert all(e["TF_NUM_INTEROP_THREADS"] == "1" for e in envs)
    assert (
        "CUDA_VISIBLE_DEVICES" not in worker_env(0, 2, [])
        or os.environ.get("CUDA_VISIBLE_DEVICES") is not None
    )


@pytest.mark.slow
def test_sigterm_stops_workers_of_a_coordinator_that_ignores_sigint(slow_study):
    _, uri, storage = slow_study
    run, pids = training(slow_study, 30, ignore_sigint=True)
    started_before = len(states(storage))
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)

    assert run.returncode == 143, err
    assert "stopped by SIGTERM" in err.splitlines()[-1]
    assert wait_until_gone(pids) < 10
    trials = states(storage)
    assert len(trials) == started_before, err  # no trial started after the signal
    assert started_trials_running(storage) == []
    assert [r for r in all_runs(uri) if r.info.status == "RUNNING"] == []


@pytest.mark.slow
def test_kill_9_of_the_coordinator_ends_its_workers_within_seconds(slow_study):
    _, uri, storage = slow_study
    run, pids = training(slow_study, 30)
    assert len(pids) == 2
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    assert wait_until_gone(pids) < 15
    assert "RUNNING" not in states(storage)
    runs = all_runs(uri)
    assert [r.data.tags.get("tuner.role") for r in runs if r.info.status == "RUNNING"] == []
    [parent] = [r for r in runs if r.data.tags["tuner.role"] == "study"]
    assert parent.info.status == "KILLED"


@pytest.mark.slow
def test_a_killed_worker_is_reported_its_trial_failed_and_its_share_run(slow_study):
    _, uri, storage = slow_study
    run, pids = training(slow_study, 4)
    os.kill(pids[0], signal.SIGKILL)
    _, err = run.communicate(timeout=300)

    assert run.returncode == 0, err
    assert (
        "was killed by SIGKILL; its running trial was recorded as failed, a new worker "
        "runs its" in err
    )
    trials = states(storage)  # the 4 asked for: the killed one FAIL, the rest run
    assert len(trials) == 4 and trials.count("FAIL") == 1 and trials.count("COMPLETE") == 3
    assert [r for r in all_runs(uri) if r.info.status == "RUNNING"] == []


@pytest.mark.slow
def test_a_second_sigterm_ends_the_coordinator_and_leaves_the_records_consistent(slow_study):
    _, uri, storage = slow_study
    run, pids = training(slow_study, 30)
    run.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    run.send_signal(signal.SIGTERM)
    _, err = run.communicate(timeout=120)

    assert run.returncode == 143, err
    wait_until_gone(pids)
    assert started_trials_running(storage) == [], err
    agree = {
        "COMPLETE": "FINISHED",
        "PRUNED": "FINISHED",
        "FAIL": ("FAILED", "KILLED"),
        "KILLED": "KILLED",
    }
    for record in all_runs(uri):
        assert record.info.status != "RUNNING", record.data.tags
        if record.data.tags["tuner.role"] == "trial":
            assert record.info.status in agree[record.data.tags["tuner.state"]]


def test_runs_that_start_together_all_log_the_new_datasets(tmp_path):
    """Several runs of a new study log the same new datasets at once: none fails on the
    store's unique key (eight threads, a barrier; each alone was refused 2 times in 3)."""
    import threading

    import numpy as np
    from mlflow.tracking import MlflowClient

    from tuner.data.containers import Data
    from tuner.tracking.lineage import dataset_inputs, log_dataset_inputs

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(uri)
    experiment = client.create_experiment("together")
    x = np.random.default_rng(0).random((50, 3)).astype("float32")
    inputs = dataset_inputs(
        Data(x, (x[:, 0] > 0.5).astype("int64"), x[:10], x[:10, 0] > 2), "together"
    )
    runs = [client.create_run(experiment).info.run_id for _ in range(8)]
    barrier, errors = threading.Barrier(len(runs)), []

    def log(run_id: str) -> None:
        barrier.wait()
        try:
            log_dataset_inputs(MlflowClient(uri), run_id, inputs)
        except Exception as exc:  # noqa: BLE001 - the test reports any
            errors.append(str(exc).splitlines()[0])

    threads = [threading.Thread(target=log, args=(r,)) for r in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(len(client.get_run(r).inputs.dataset_inputs) == 2 for r in runs)


POP_QUEUE = """
import sys, time
import optuna
from tuner.runtime.stores import open_storage

study = optuna.load_study(study_name="queue", storage=open_storage(sys.argv[1]))
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(" ".join(str(study.ask().number) for _ in range(10)))
"""


def test_workers_that_pop_the_queue_together_each_get_their_own_trial(tmp_path):
    """Four processes ask for enqueued trials at the same moment on one SQLite store:
    each trial goes to one of them (without BEGIN IMMEDIATE, 11 of 40 went to two)."""
    import optuna

    from tuner.runtime.stores import open_storage

    url = f"sqlite:///{tmp_path}/optuna.db"
    study = optuna.create_study(study_name="queue", storage=open_storage(url))
    for x in range(40):
        study.enqueue_trial({"x": x})
    start = time.time() + 4  # after the four have imported Optuna
    askers = [
        subprocess.Popen(
            [sys.executable, "-c", POP_QUEUE, url, str(start)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    numbers = [int(n) for asker in askers for n in asker.communicate(timeout=60)[0].split()]

    assert sorted(numbers) == list(range(40))
