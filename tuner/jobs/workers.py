"""``tuner run --workers N``: N processes on one study, on this machine.

The coordinator creates both stores and the parent run first (several
processes creating one SQLite database at once race on its schema), then
starts the worker processes (``tuner.jobs.worker``), which share the Optuna
study and join the parent run, each with its share of the trials and of the
CPU cores. A worker reads its settings as JSON on its standard input, so no
URL or password stands on a command line that other users can list.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from tuner.core.errors import Interrupted, TunerError
from tuner.core.options import RunOptions
from tuner.core.study import Study
from tuner.engines.base import SearchOutcome
from tuner.jobs.study_run import close_parent, open_run


def shares(n_trials: int | None, n_workers: int) -> list[int | None]:
    """Trials per worker, as even as possible, no worker without one; ``None`` (a timeout
    only) for each."""
    if n_trials is None:
        return [None] * n_workers
    n_workers = min(n_workers, n_trials)
    return [n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)]


def thread_env(n_workers: int) -> dict[str, str]:
    """Split the cores: TensorFlow reads these before it starts its thread pools."""
    per_worker = max(1, (os.cpu_count() or 1) // n_workers)
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": str(per_worker),
            "TF_NUM_INTEROP_THREADS": "1"}


def worker_command() -> list[str]:
    """The command of a worker process; its settings come on standard input."""
    return [sys.executable, "-m", "tuner.jobs.worker"]


def start_worker(spec: Mapping[str, Any], env: Mapping[str, str]) -> subprocess.Popen:
    """A worker process, handed ``spec`` (study file, overrides, options) through a pipe."""
    worker = subprocess.Popen(worker_command(), env=dict(env), stdin=subprocess.PIPE, text=True)
    assert worker.stdin is not None
    worker.stdin.write(json.dumps(spec))
    worker.stdin.close()
    return worker


def run_workers(study_file: str, overrides: Mapping[str, Any], study: Study,
                options: RunOptions) -> SearchOutcome:
    """Start the workers, wait for them, close the parent run with the study's outcome."""
    _, engine, tracker = open_run(study, options)
    per_worker = shares(options.trials, options.workers)
    env = thread_env(len(per_worker))
    processes = [
        start_worker({"study_file": study_file, "overrides": dict(overrides),
                      "options": dataclasses.replace(
                          options, worker=i, parent_run_id=tracker.parent_run_id, trials=share,
                          progress=False).as_json()}, env)
        for i, share in enumerate(per_worker)
    ]
    status = "FAILED"
    try:
        codes = [p.wait() for p in processes]
        status = "FINISHED" if not any(codes) else "FAILED"
    except KeyboardInterrupt:
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in processes:
            p.wait()
        status = "KILLED"
        raise Interrupted(engine.outcome()) from None
    finally:
        close_parent(tracker, status, engine)
    failed = [f"worker {i} exited with status {c}" for i, c in enumerate(codes) if c]
    if failed:
        raise TunerError("; ".join(failed) + " (its error is printed above)")
    return engine.outcome()
