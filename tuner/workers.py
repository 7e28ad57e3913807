"""``tuner run --workers N``: N processes on one study, on this machine.

The coordinator creates both stores and the parent run first (several
processes creating one SQLite database at once race on its schema), then
starts N worker processes that share the Optuna study and join the parent
run, each with its share of the trials and of the CPU cores. A worker gets
the coordinator's settings as one JSON document (``worker_command``),
not as a rebuilt command line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from typing import Any

from tuner.engines.base import RunOptions, SearchOutcome
from tuner.errors import Interrupted, TunerError
from tuner.search import close_parent, open_run
from tuner.study import Study


def shares(n_trials: int | None, n_workers: int) -> list[int | None]:
    """Trials per worker, as even as possible; ``None`` (a timeout only) for each."""
    if n_trials is None:
        return [None] * n_workers
    return [n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)]


def thread_env(n_workers: int) -> dict[str, str]:
    """Split the cores: TensorFlow reads these before it starts its thread pools."""
    per_worker = max(1, (os.cpu_count() or 1) // n_workers)
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": str(per_worker),
            "TF_NUM_INTEROP_THREADS": "1"}


def worker_command(spec: dict[str, Any], options: RunOptions) -> list[str]:
    """``tuner run --worker SPEC``, with this worker's options in the spec."""
    spec = {**spec, "options": dataclasses.asdict(options)}
    return [sys.executable, "-m", "tuner.cli", "run", spec["study_file"], "--worker",
            json.dumps(spec)]


def run_workers(spec: dict[str, Any], study: Study, options: RunOptions,
                n_workers: int) -> SearchOutcome:
    """Start the workers, wait for them, close the parent run with the study's outcome."""
    _, engine, tracker = open_run(study, options)
    env = thread_env(n_workers)
    processes = [
        subprocess.Popen(worker_command(spec, dataclasses.replace(
            options, worker=i, parent_run_id=tracker.parent_run_id, n_trials=share,
            show_progress_bar=False)), env=env)
        for i, share in enumerate(shares(options.n_trials, n_workers))
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
