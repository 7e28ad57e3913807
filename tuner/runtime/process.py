"""How the ``tuner`` command's process behaves: quiet libraries, garbage collector, exit.

A process that is the ``tuner`` command's alone (``own()``, called by
``tuner.cli.entry``) may change process-wide state: the garbage collector,
and an exit without the interpreter's teardown. In-process callers (tests,
notebooks, ``tuner.cli.main``) keep the interpreter's defaults.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable

from tuner.runtime import interrupts, workarounds

_owned = False


def own() -> None:
    """Mark this process as the ``tuner`` command's alone; SIGTERM and SIGHUP stop it as
    Ctrl-C does (``interrupts.stop_on_signals``)."""
    global _owned
    _owned = True
    interrupts.stop_on_signals()


def libraries_loading() -> contextlib.AbstractContextManager[None]:
    """Around the imports and set-up before a search: see ``workarounds``' collector note."""
    return workarounds.collector_paused_then_frozen(enabled=_owned)


def import_tensorflow_quietly() -> None:
    """Import TensorFlow without its C++ start-up lines on stderr.

    TensorFlow 2.21 prints absl and CUDA-probe lines (not errors) straight to
    file descriptor 2 when it loads, ignoring ``TF_CPP_MIN_LOG_LEVEL``; they
    would bury tuner's one-line messages.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_libraries(*, debug: bool = False, tensorflow: bool = True) -> None:
    """TensorFlow loaded without its chatter (unless ``debug``); MLflow and Optuna: warnings."""
    if tensorflow and not debug:
        import_tensorflow_quietly()
    # MLflow draws a progress bar for every artifact it downloads (a trial's outputs).
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    import mlflow  # noqa: F401 - it sets its loggers' levels on import; set ours after

    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # MLflow logs each database error it raises with its traceback; the error is raised,
    # and tuner reports it in one line.
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    # Optuna logs a traceback per failed trial; tuner logs one line instead.
    logging.getLogger("optuna").setLevel(logging.ERROR)
    # psycopg warns of a second error while it ends a pipeline that an error already
    # ended ("error ignored terminating"); the first one is raised, and reported.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    tuner_log = logging.getLogger("tuner")
    if not tuner_log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        tuner_log.addHandler(handler)
        tuner_log.setLevel(logging.INFO)
    # TensorFlow warns of retracing whenever a new trial's model first predicts.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    from tuner.runtime.stores import report_store_failures_of_threads  # imports Optuna

    report_store_failures_of_threads()


def exit_now(status: int | str | None) -> None:
    """End the process with ``status`` after the exit handlers, without the teardown.

    Everything tuner writes is committed and the figures process waited for
    by then; the teardown of every module and object would take 3-5 s more.
    """
    if isinstance(status, str):  # sys.exit("message"), as Python itself does it
        print(status, file=sys.stderr)
        status = 1
    workarounds.run_exit_handlers()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status or 0)


def load_training_libraries(
    *, new_tracking_store: str | None, start_helper: Callable[[], None] | None, debug: bool
) -> bool:
    """Load TensorFlow with the other core kept busy; whether a tracking store is created.

    A new SQLite tracking store at ``new_tracking_store`` is created by a second
    process while TensorFlow loads (``store_creation``; the caller waits on it
    with ``await_tracking_store``). Where there is none to create, ``start_helper``
    (the figures process) starts beside the import instead, else after it: with
    both beside TensorFlow's import, the first trial started 2 s later.
    """
    from tuner.runtime.store_creation import start_tracking_store

    creating = new_tracking_store is not None and start_tracking_store(new_tracking_store)
    if start_helper is not None and not creating:
        start_helper()
    quiet_libraries(debug=debug)
    if start_helper is not None and creating:
        start_helper()
    return creating
