"""An MLflow client that waits out a SQLite tracking store that another process holds locked.

Under ``--workers N`` several processes write one SQLite tracking store. A
write in a transaction that began by reading (MLflow's sessions read, then
write) fails with ``database is locked`` at once when another process
committed in between: SQLite's busy timeout does not wait in that case. The
failed write was rolled back, so it is tried again after a short pause, for
up to ``LOCKED_WINDOW_S``; then the error is raised (and reported in one line
as a store that refused a write).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from mlflow.tracking import MlflowClient

from tuner.runtime.stores import store_failure

T = TypeVar("T")

LOCKED_WINDOW_S = 60.0
FIRST_PAUSE_S = 0.05
LONGEST_PAUSE_S = 1.0


def wait_out_locks(
    call: Callable[[], T],
    *,
    window_s: float = LOCKED_WINDOW_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()``, called again after a pause (doubling, with jitter) while it fails
    because the database is locked, until ``window_s`` seconds have passed."""
    deadline = clock() + window_s
    pause = FIRST_PAUSE_S
    while True:
        try:
            return call()
        except Exception as exc:
            if store_failure(exc) != "database is locked" or clock() >= deadline:
                raise
        sleep(pause * random.uniform(1.0, 1.5))
        pause = min(2 * pause, LONGEST_PAUSE_S)


class PatientClient(MlflowClient):
    """``MlflowClient`` whose public methods wait out a locked database (``wait_out_locks``)."""

    def __init__(
        self, tracking_uri: str | None = None, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        super().__init__(tracking_uri)
        self._sleep = sleep

    def __getattribute__(self, name: str) -> Any:
        found = super().__getattribute__(name)
        if name.startswith("_") or not callable(found):
            return found
        sleep = super().__getattribute__("_sleep")

        def patiently(*args: Any, **kwargs: Any) -> Any:
            return wait_out_locks(lambda: found(*args, **kwargs), sleep=sleep)

        return patiently
