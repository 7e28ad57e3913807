"""tracking/housekeeping.py: runs whose process ended are closed KILLED, live ones are not."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from mlflow.tracking import MlflowClient

from tuner.runtime import owner
from tuner.runtime.store_creation import create_tracking_store
from tuner.tracking import keys
from tuner.tracking.housekeeping import (
    close_orphaned_parent,
    close_orphaned_run,
    close_runs_of_dead_owners,
)


def ended_owner() -> str:
    """The owner tag of a process that ran on this host and has ended."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    started = (owner.PROC / str(child.pid) / "stat").read_text().rsplit(")", 1)[1].split()[19]
    child.kill()
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:{started}"


@pytest.fixture
def store(workdir) -> tuple[str, MlflowClient, str]:
    uri = f"sqlite:///{workdir}/mlflow.db"
    create_tracking_store(uri)
    client = MlflowClient(uri)
    return uri, client, client.create_experiment("study")


def run(
    client: MlflowClient, experiment: str, role: str, who: str, parent: str | None = None
) -> str:
    tags = {keys.ROLE: role, keys.OWNER: who, keys.STATE: "RUNNING"}
    if parent:
        tags["mlflow.parentRunId"] = parent
    return client.create_run(experiment, tags=tags).info.run_id


def test_running_runs_of_an_ended_process_are_killed_and_a_trial_says_why(store):
    _, client, experiment = store
    gone, me = ended_owner(), owner.this_process()
    dead_parent = run(client, experiment, "study", gone)
    dead_trial = run(client, experiment, "trial", gone, parent=dead_parent)
    live_trial = run(client, experiment, "trial", me)
    elsewhere = run(client, experiment, "trial", "another-host:1:1")

    close_runs_of_dead_owners(client, experiment)

    assert client.get_run(dead_parent).info.status == "KILLED"
    trial = client.get_run(dead_trial)
    assert trial.info.status == "KILLED"
    assert trial.data.tags[keys.STATE] == "FAIL"
    assert trial.data.tags[keys.FAIL_REASON] == "its process ended"
    for untouched in (live_trial, elsewhere):  # alive, or not checkable from here
        assert client.get_run(untouched).info.status == "RUNNING"


def test_an_orphaned_trial_closes_its_parent_unless_a_live_process_owns_it(store):
    uri, client, experiment = store
    dead_parent = run(client, experiment, "study", ended_owner())
    trial = run(client, experiment, "trial", owner.this_process(), parent=dead_parent)
    close_orphaned_run(uri, trial, "its worker was killed")
    assert client.get_run(trial).data.tags[keys.FAIL_REASON] == "its worker was killed"
    assert client.get_run(dead_parent).info.status == "KILLED"

    live_parent = run(client, experiment, "study", owner.this_process())
    close_orphaned_parent(uri, live_parent)
    assert client.get_run(live_parent).info.status == "RUNNING"
