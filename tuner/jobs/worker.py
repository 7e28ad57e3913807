"""One worker of ``tuner run --workers N``: ``python -m tuner.jobs.worker``.

It reads ``{"study_file", "overrides", "context"}`` as one line of JSON on its
standard input (``coordinator.start_worker``), loads the study file again and
searches its share. The rest of standard input is the coordinator's lifeline:
when it closes, the coordinator has ended, and the worker stops as SIGTERM
stops it, its running trial recorded, and ends the parent run if no process
owns it any more. SIGINT, SIGTERM and SIGHUP stop it whatever the process
that started the coordinator ignored (``nohup`` and ``&`` in a script ignore
SIGINT). A library error prints one line and exits 2.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from typing import IO

from tuner.core.errors import Interrupted, TunerError
from tuner.core.options import SearchContext
from tuner.core.studyfile import load_study_file
from tuner.jobs.summary import interrupted_line
from tuner.runtime import interrupts, process


class CoordinatorWatch:
    """Reads the coordinator's pipe to its end on a thread, then stops this process."""

    def __init__(self, pipe: IO[str]) -> None:
        self.gone = threading.Event()
        threading.Thread(
            target=self._watch, args=(pipe,), daemon=True, name="coordinator-watch"
        ).start()

    def _watch(self, pipe: IO[str]) -> None:
        for _ in pipe:
            pass
        self.gone.set()
        if not interrupts.stopping():
            interrupts.stop_from_thread(signal.SIGTERM)


def work(context: SearchContext, study_file: str, overrides: dict) -> None:
    """Search the worker's share of the study."""
    with process.libraries_loading():
        study = load_study_file(study_file, overrides)
        from tuner.tracking.figures import report_process  # here, not by `import tuner`

        process.load_training_libraries(
            new_tracking_store=None, start_helper=report_process.start, debug=context.options.debug
        )
        from tuner.jobs.study_run import run_study  # TensorFlow is loaded: the training side

    run_study(study, context)


def main() -> int:
    """The worker process: its exit status (0, 2 for a library error, or the stop's)."""
    process.own()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    spec = json.loads(sys.stdin.readline())
    context = SearchContext.from_json(spec["context"])
    watch = CoordinatorWatch(sys.stdin)
    try:
        work(context, spec["study_file"], spec["overrides"])
    except Interrupted as exc:
        print(interrupted_line(interrupts.stop_reason(), exc.outcome), file=sys.stderr)
        if watch.gone.is_set() and context.parent_run_id:
            from tuner.tracking.housekeeping import close_orphaned_parent  # MLflow: loaded

            close_orphaned_parent(context.tracking_uri, context.parent_run_id)
        return interrupts.exit_status()
    except KeyboardInterrupt:
        return interrupts.exit_status()
    except TunerError as exc:
        print(f"Error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    process.exit_now(main())
