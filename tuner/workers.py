"""``tuner run --workers N``: N processes on one study, on this machine.

The coordinator creates both stores and the parent run first (several
processes creating one SQLite database at once race on its schema), then
starts N ``tuner run`` worker processes that share the Optuna study and join
the parent run, each with its share of the trials and of the CPU cores.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from tuner.engines.base import RunOptions, SearchOutcome
from tuner.errors import Interrupted, TunerError
from tuner.run import close_parent, open_run
from tuner.study import Study


def shares(n_trials: int | None, n_workers: int) -> list[int | None]:
    """Trials per worker, as even as possible; ``None`` (a timeout only) for each."""
    if n_trials is None:
        return [None] * n_workers
    return [n_trials // n_workers + (i < n_trials % n_workers) for i in range(n_workers)]


def worker_command(study_file: str, study: Study, options: RunOptions, index: int,
                   parent_run_id: str, n_trials: int | None) -> list[str]:
    command = [
        sys.executable, "-m", "tuner.cli", "run", study_file, "--no-progress",
        "--worker-index", str(index), "--parent-run-id", parent_run_id,
        "--study-name", study.name, "--seed", str(options.seed),
        "--storage", options.storage_url, "--tracking-uri", options.tracking_uri,
        "--stale-after", str(options.stale_after), "--retry-failed", str(options.retry_failed),
        "--max-failures", str(options.max_failures),
    ]
    command += study_overrides(study)
    if n_trials is not None:
        command += ["--trials", str(n_trials)]
    if options.timeout is not None:
        command += ["--timeout", str(options.timeout)]
    return command


def study_overrides(study: Study) -> list[str]:
    """The settings a worker must share with the coordinator, as ``tuner run`` options.

    A worker reads the study file again; without these, options given to the
    coordinator (``--pruner none``, ``--mixed-precision``) would not reach it.
    """
    named = [item for option, value in (("--sampler", study.sampler), ("--pruner", study.pruner))
             if isinstance(value, str) for item in (option, value)]
    return [
        *named,
        "--steps-per-execution", str(study.steps_per_execution),
        "--jit-compile", {True: "on", False: "off"}.get(study.jit_compile, "auto"),
        "--mixed-precision", study.mixed_precision or "off",
        "--input-pipeline", study.input_pipeline,
    ]


def thread_env(n_workers: int) -> dict[str, str]:
    """Split the cores: TensorFlow reads these before it starts its thread pools."""
    per_worker = max(1, (os.cpu_count() or 1) // n_workers)
    return {**os.environ, "TF_NUM_INTRAOP_THREADS": str(per_worker),
            "TF_NUM_INTEROP_THREADS": "1"}


def run_workers(study_file: str, study: Study, options: RunOptions,
                n_workers: int) -> SearchOutcome:
    """Start the workers, wait for them, close the parent run with the study's outcome."""
    _, engine, tracker = open_run(study, options)
    env = thread_env(n_workers)
    processes = [
        subprocess.Popen(worker_command(study_file, study, options, i, tracker.parent_run_id,
                                        share), env=env)
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
