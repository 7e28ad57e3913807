"""tracking/patient.py: MLflow writes wait out a SQLite store that another process holds locked."""

from __future__ import annotations

import sqlite3

import pytest
from mlflow.exceptions import MlflowException
from sqlalchemy.exc import OperationalError

from tuner.runtime.store_creation import create_tracking_store
from tuner.tracking.patient import LOCKED_WINDOW_S, PatientClient, wait_out_locks


class Clock:
    """Time that passes only when slept."""

    def __init__(self) -> None:
        self.now = 0.0
        self.pauses: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.pauses.append(seconds)
        self.now += seconds


def locked() -> MlflowException:
    """What MLflow raises for a locked SQLite database: SQLAlchemy's error inside."""
    cause = OperationalError("UPDATE runs", {}, sqlite3.OperationalError("database is locked"))
    error = MlflowException(
        f"({cause.orig.__class__.__module__}.OperationalError) database is locked"
    )
    error.__cause__ = cause
    return error


def failing(errors: list[BaseException]) -> tuple[list[int], object]:
    calls: list[int] = []

    def call() -> str:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return "written"

    return calls, call


def test_a_locked_write_is_tried_again_after_growing_pauses_until_it_succeeds():
    clock = Clock()
    calls, call = failing([locked(), locked(), locked()])
    assert wait_out_locks(call, sleep=clock.sleep, clock=clock) == "written"
    assert len(calls) == 4 and len(clock.pauses) == 3
    assert clock.pauses[0] < clock.pauses[1] < clock.pauses[2]


def test_other_errors_are_raised_at_once_and_a_lock_past_the_window_is_raised():
    clock = Clock()
    calls, call = failing([MlflowException("RESOURCE_DOES_NOT_EXIST: run 'x'")])
    with pytest.raises(MlflowException, match="RESOURCE_DOES_NOT_EXIST"):
        wait_out_locks(call, sleep=clock.sleep, clock=clock)
    assert len(calls) == 1 and clock.pauses == []

    calls, call = failing([locked() for _ in range(1000)])
    with pytest.raises(MlflowException, match="database is locked"):
        wait_out_locks(call, sleep=clock.sleep, clock=clock)
    assert LOCKED_WINDOW_S <= clock.now < LOCKED_WINDOW_S + 2


def test_a_tag_written_while_another_process_holds_the_store_lands_once_it_lets_go(workdir):
    uri = f"sqlite:///{workdir}/mlflow.db"
    create_tracking_store(uri)
    holder = sqlite3.connect(workdir / "mlflow.db", isolation_level=None)
    released: list[float] = []

    def release_then_sleep(seconds: float) -> None:  # the first pause: the holder lets go
        if not released:
            holder.execute("COMMIT")
        released.append(seconds)

    client = PatientClient(uri, sleep=release_then_sleep)
    experiment = client.create_experiment("held")
    run = client.create_run(experiment)
    holder.execute("BEGIN EXCLUSIVE")  # SQLite's busy timeout runs out while it holds
    client.set_tag(run.info.run_id, "tuner.state", "COMPLETE")
    holder.close()
    assert released, "the write never met the lock"
    assert client.get_run(run.info.run_id).data.tags["tuner.state"] == "COMPLETE"
