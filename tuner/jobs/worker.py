"""One worker of ``tuner run --workers N``: ``python -m tuner.jobs.worker``.

It reads ``{"study_file", "overrides", "options"}`` as JSON on standard input
(``workers.start_worker``), loads the study file again and searches its share.
A library error prints one line and exits 2; a stop signal stops it as Ctrl-C
does, its running trial recorded.
"""

from __future__ import annotations

import json
import sys

from tuner.core.errors import Interrupted, TunerError
from tuner.core.options import RunOptions
from tuner.core.studyfile import load_study_file
from tuner.jobs.search import figures_process_first
from tuner.jobs.summary import interrupted_line
from tuner.runtime import interrupts, process


def work(spec: dict) -> None:
    """Search the worker's share of the study ``spec`` names."""
    options = RunOptions(**spec["options"])
    with process.libraries_loading():
        study = load_study_file(spec["study_file"], spec["overrides"])
        with figures_process_first(creating_store=False, trains_here=True):
            process.quiet_libraries(debug=options.debug)
        from tuner.jobs.study_run import run_study  # TensorFlow is loaded: the training side

    run_study(study, options)


def main() -> int:
    """The worker process: its exit status (0, 2 for a library error, or the stop's)."""
    process.own()
    try:
        work(json.loads(sys.stdin.read()))
    except Interrupted as exc:
        print(interrupted_line(interrupts.stop_reason(), exc.outcome), file=sys.stderr)
        return interrupts.exit_status()
    except TunerError as exc:
        print(f"Error: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return interrupts.exit_status()
    return 0


if __name__ == "__main__":
    process.exit_now(main())
