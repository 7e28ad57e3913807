"""``tuner run --workers N``: N processes on one study, on this machine.

The coordinator creates both stores and the parent run first (several
processes creating one SQLite database at once race on its schema), then
starts the worker processes (``tuner.jobs.worker``), which share the Optuna
study and join the parent run, each with its share of the trials, of the CPU
cores and, where the machine has several, one GPU each.

A worker reads its settings as one line of JSON on its standard input, so no
URL or password stands on a command line that other users can list; the pipe
stays open while the coordinator lives, and a worker whose pipe closes (the
coordinator ended, however it ended: kill -9 included) stops as SIGTERM stops
it. Workers run in a process group of their own: a stop signal reaches them
once, forwarded by the coordinator. A worker killed by a signal is reported
by that signal, its running trial is failed at once, and a new worker runs
the trials it had left.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuner.core.errors import Interrupted, TunerError
from tuner.core.options import SearchContext
from tuner.core.study import Study
from tuner.engines.base import SearchOutcome
from tuner.engines.optuna_engine import OptunaEngine
from tuner.jobs.study_run import close_parent, open_run
from tuner.runtime import owner
from tuner.tracking.housekeeping import close_runs_of_dead_owners
from tuner.tracking.runs import Tracker

POLL_SECONDS = 0.2

OWNERLESS_S = 2.0  # a trial without an owner this long after a worker died is its


def shares(n_trials: int | None, n_workers: int) -> list[int | None]:
    """Trials per worker, as even as possible, no worker without one; ``None`` (a timeout
    only) for each."""
    if n_trials is None:
        return [None] * n_workers
    n_workers = min(n_workers, n_trials)
    return [n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)]


def visible_gpus() -> list[str]:
    """The GPUs workers may use: ``CUDA_VISIBLE_DEVICES`` where set, else TensorFlow's."""
    given = os.environ.get("CUDA_VISIBLE_DEVICES")
    if given is not None:
        return [g for g in given.split(",") if g.strip() and g.strip() != "-1"]
    import tensorflow as tf  # loaded already: the coordinator prepared the study

    return [str(i) for i in range(len(tf.config.list_physical_devices("GPU")))]


def worker_env(worker: int, n_workers: int, gpus: Sequence[str]) -> dict[str, str]:
    """A worker's environment: its share of the cores (TensorFlow reads these before it
    starts its thread pools) and, where there are GPUs, one of them, round-robin."""
    per_worker = max(1, (os.cpu_count() or 1) // n_workers)
    env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(per_worker), "TF_NUM_INTEROP_THREADS": "1"}
    if gpus:
        env["CUDA_VISIBLE_DEVICES"] = gpus[worker % len(gpus)]
    return env


def worker_command() -> list[str]:
    """The command of a worker process; its settings come on standard input."""
    return [sys.executable, "-m", "tuner.jobs.worker"]


def start_worker(spec: Mapping[str, Any], env: Mapping[str, str]) -> subprocess.Popen:
    """A worker in a process group of its own, handed ``spec`` (study file, overrides,
    context) as one line on a pipe that stays open while this process lives."""
    worker = subprocess.Popen(
        worker_command(), env=dict(env), stdin=subprocess.PIPE, text=True, process_group=0
    )
    assert worker.stdin is not None
    worker.stdin.write(json.dumps(spec) + "\n")
    worker.stdin.flush()
    return worker


def signal_name(returncode: int) -> str:
    return (
        signal.Signals(-returncode).name
        if -returncode in signal.valid_signals()
        else f"signal {-returncode}"
    )


@dataclass
class Slot:
    """One worker's place: its number, its process, and the trials it was given."""

    number: int
    process: subprocess.Popen
    trials: int | None


class Workers:
    """The worker processes of one coordinator, replaced when one is killed."""

    def __init__(
        self,
        study_file: str,
        overrides: Mapping[str, Any],
        context: SearchContext,
        engine: OptunaEngine,
        tracker: Tracker,
    ) -> None:
        options = context.options
        self.tracker = tracker
        self.spec = {"study_file": study_file, "overrides": dict(overrides)}
        self.context = dataclasses.replace(
            context.with_options(progress=False), parent_run_id=tracker.parent_run_id
        )
        self.engine = engine
        self.replacements_left = options.max_failures
        per_worker = shares(options.trials, options.workers)
        self.env = [worker_env(i, len(per_worker), visible_gpus()) for i in range(len(per_worker))]
        self.slots = [self._start(i, share) for i, share in enumerate(per_worker)]

    def _start(self, number: int, trials: int | None) -> Slot:
        context = dataclasses.replace(self.context.with_options(trials=trials), worker=number)
        process = start_worker({**self.spec, "context": context.as_json()}, self.env[number])
        return Slot(number, process, trials)

    def wait(self) -> list[str]:
        """Until every worker has ended; what went wrong, one line per worker."""
        problems: dict[int, str] = {}
        handled: set[int] = set()
        while any(slot.process.poll() is None for slot in self.slots):
            time.sleep(POLL_SECONDS)
            for i, slot in enumerate(self.slots):
                code = slot.process.poll()
                if code is None or code >= 0 or slot.process.pid in handled:
                    continue
                handled.add(slot.process.pid)
                replacement, problem = self._replace(slot)
                if replacement is not None:
                    self.slots[i] = replacement
                if problem:
                    problems[slot.number] = problem
        for slot in self.slots:
            code = slot.process.wait()
            if code > 0 and slot.number not in problems:
                problems[slot.number] = (
                    f"worker {slot.number} exited with status {code} (its error is printed above)"
                )
        return [problems[n] for n in sorted(problems)]

    def _replace(self, slot: Slot) -> tuple[Slot | None, str | None]:
        """A worker was killed: fail its trial at once, start a worker for what it had left.

        Returns the new worker (None when nothing is left) and a problem to report
        (when too many workers were killed to replace another).
        """
        # A trial asked for in the moment the worker died never recorded its owner; a live
        # worker records its own at once, so after OWNERLESS_S one without is the dead one's.
        time.sleep(OWNERLESS_S)
        ownerless = self.engine.fail_trials_of_dead_owners(ownerless_after=OWNERLESS_S)
        # and a trial run it had opened before recording it on its trial
        close_runs_of_dead_owners(self.tracker.client, self.tracker.experiment_id)
        killed = f"worker {slot.number} was killed by {signal_name(slot.process.returncode)}"
        left = (
            None
            if slot.trials is None
            else max(0, slot.trials - self._trials_of(slot.process.pid) - ownerless)
        )
        timeout = self.context.seconds_left()
        if self.replacements_left <= 0:
            return None, f"{killed} (and {self.context.options.max_failures} before it)"
        if left == 0 or (timeout is not None and timeout <= 0):
            print(f"{killed}; its running trial was recorded as failed", file=sys.stderr)
            return None, None
        self.replacements_left -= 1
        more = "its remaining trials" if left is None else f"its {left} remaining trial(s)"
        print(
            f"{killed}; its running trial was recorded as failed, a new worker runs {more}",
            file=sys.stderr,
        )
        return self._start(slot.number, left), None

    def _trials_of(self, pid: int) -> int:
        """Trials of the study that process ``pid`` of this host started."""
        return sum(
            1
            for t in self.engine.optuna_view().get_trials(deepcopy=False)
            if owner.pid_of(t.user_attrs.get("owner", "")) == pid
        )

    def forward(self, signum: int) -> None:
        """A stop signal to every running worker, each to record its trial and end."""
        for slot in self.slots:
            if slot.process.poll() is None:
                slot.process.send_signal(signum)

    def join(self) -> None:
        for slot in self.slots:
            slot.process.wait()

    def close(self) -> None:
        """Close the pipes: a worker still running then stops (none is, after ``wait``)."""
        for slot in self.slots:
            if slot.process.stdin and not slot.process.stdin.closed:
                slot.process.stdin.close()


def run_workers(
    study_file: str, overrides: Mapping[str, Any], study: Study, context: SearchContext
) -> SearchOutcome:
    """Start the workers, wait for them, close the parent run with the study's outcome."""
    prepared, engine, tracker = open_run(study, context)
    assert isinstance(engine, OptunaEngine)  # workers share an Optuna storage
    status: str | None = "FAILED"
    workers: Workers | None = None
    try:
        workers = Workers(study_file, overrides, context, engine, tracker)
        problems = workers.wait()
        status = "FAILED" if problems else "FINISHED"
    except KeyboardInterrupt as stop:
        if workers is not None:
            workers.forward(getattr(stop, "signum", signal.SIGINT))
        # closed before waiting: a second stop signal ends this process at once
        close_parent(tracker, "KILLED", engine)
        status = None
        if workers is not None:
            workers.join()
        raise Interrupted(engine.outcome()) from None
    finally:
        if workers is not None:
            workers.close()
        if status is not None:
            close_parent(tracker, status, engine, task=prepared.task)
    if problems:
        raise TunerError("; ".join(problems))
    return engine.outcome()
