"""Trials' figures and the study's plots, drawn and logged to MLflow by a second process.

Drawing a trial's figures is 0.1-0.3 s of Python. On a thread of the training
process it held the interpreter's lock while the next trial was being set up:
in a synthetic study of 8 trials, 1.8-2.8 s of the study's wall time outside
``fit`` (docs/speed.md). A process draws them on another core.

The process is ``python -m tuner.tracking.figures.report_process``, not a
``multiprocessing`` pool: those start their workers by importing the parent's
main script again, which would run a user's unguarded script twice. It reads pickled work on
stdin and answers each piece with one line on stdout (empty, or what went
wrong). One process serves every study of the Python process that starts it
(tests and benchmarks run many); it imports matplotlib, scikit-learn and
MLflow, not TensorFlow. It runs in its own session, so Ctrl-C does not reach
it: a stopped study still waits for its finished trials' figures. When the
parent dies, its stdin closes and it exits.

It also draws Optuna's plots of the study for the parent run, at the end. It
draws a tiny study's plots as it starts: the first plots of a process cost
0.9 s of plotly's start-up, later ones 0.06 s. ``tuner run`` starts it
(``start``) before it imports TensorFlow (after, when a new store is being
created then), so that its imports and this warm-up run on the core that
the training process's start-up leaves idle, not beside the first trial's
training. This module imports no heavy library where the parent uses it; the
process imports them itself.
"""

from __future__ import annotations

import functools
import gc
import logging
import os
import pickle
import queue
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from tuner.tracking.figures.report import ReportInputs
    from tuner.tracking.figures.study_plots import StudyPlotsInputs

    Work = ReportInputs | StudyPlotsInputs

log = logging.getLogger(__name__)


@dataclass
class _Child:
    """The running process, what is waiting to be written to it, and how far it got."""

    process: subprocess.Popen[bytes]
    outbox: queue.Queue[bytes] = field(default_factory=queue.Queue)
    sent: int = 0
    answered: int = 0

    def write_all(self) -> None:
        """On a thread: pipe writes block while the child is busy; training does not wait."""
        assert self.process.stdin is not None
        while True:
            try:
                self.process.stdin.write(self.outbox.get())
                self.process.stdin.flush()
            except OSError:  # it died; its missing answers say so
                return

    def answer(self, number: int) -> str:
        """What it said of piece ``number`` (empty: logged); answers are read in order."""
        assert self.process.stdout is not None
        line = b""
        while self.answered < number:
            line = self.process.stdout.readline()
            if not line:
                return "the figures process stopped before logging them"
            self.answered += 1
        return line.decode(errors="replace").strip()


_child: _Child | None = None
_lock = threading.Lock()


def _running_child() -> _Child:
    """The process, started on first use or again if it died."""
    global _child
    with _lock:
        if _child is None or _child.process.poll() is not None:
            if _child is not None:
                log.warning("the figures process stopped; starting another")
            # The same tuner as this process's, wherever it was imported from.
            path = os.pathsep.join(
                filter(None, [str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH")])
            )
            process = subprocess.Popen(
                [sys.executable, "-m", "tuner.tracking.figures.report_process"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                start_new_session=True,
                env={**os.environ, "PYTHONPATH": path},
            )
            _child = _Child(process)
            threading.Thread(target=_child.write_all, name="tuner-figures", daemon=True).start()
        return _child


def start() -> None:
    """Start the process now, if it is not running, so it loads while this one does."""
    _running_child()


class ReportQueue:
    """The figures of one run's trials and plots: sent as they finish, waited for at the end."""

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self.sent: list[tuple[_Child, int, str]] = []  # process, its number for it, run id
        _running_child()  # unless `tuner run` started it already

    def submit(self, run_id: str, work: Work) -> None:
        child = _running_child()
        child.outbox.put(pickle.dumps((self.tracking_uri, run_id, work)))
        child.sent += 1
        self.sent.append((child, child.sent, run_id))

    def finish(self) -> None:
        """Wait until every figure sent is logged; a failure is a warning, not an error."""
        for child, number, run_id in self.sent:
            if problem := child.answer(number):
                log.warning("figures of run %s not logged: %s", run_id, problem)
        self.sent.clear()


@functools.cache
def _client(tracking_uri: str) -> MlflowClient:
    from tuner.tracking.patient import PatientClient

    return PatientClient(tracking_uri)


def log_work(tracking_uri: str, run_id: str, work: Work) -> None:
    """Draw a trial's figures and log them with its documents, or a study's plots."""
    from tuner.tracking.figures.report import render
    from tuner.tracking.figures.study_plots import StudyPlotsInputs, study_plots_html

    client = _client(tracking_uri)
    if isinstance(work, StudyPlotsInputs):
        client.log_text(run_id, study_plots_html(work.study()), "optuna_plots.html")
        return
    report = render(work)
    for name, fig in report.figures.items():
        client.log_figure(run_id, fig, name)
    for name, document in report.documents.items():
        client.log_dict(run_id, document, name)


def main() -> None:
    """The child's loop: one piece of work from stdin, one line of answer to stdout.

    Anything a library prints goes to stderr, so only answers reach the parent.
    """
    pieces = sys.stdin.buffer
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    # Its libraries load now, while the parent loads its own, not when work arrives;
    # as in the `tuner` command, the collector is off meanwhile and their objects are
    # then frozen out of its reach: a trial's figures took 0.14-0.15 s instead of
    # 0.21-0.27 s here, the start-up 3.3-4.3 s instead of 3.8-4.7 s.
    gc.disable()
    import mlflow  # noqa: F401
    import optuna

    import tuner.tracking.figures.report  # noqa: F401 - matplotlib, scikit-learn
    from tuner.tracking.figures.study_plots import warm_up

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # in-memory studies are no news
    warm_up()
    gc.freeze()
    gc.enable()
    while True:
        try:
            tracking_uri, run_id, work = pickle.load(pieces)
        except EOFError:
            return
        try:
            log_work(tracking_uri, run_id, work)
            answer = ""
        except Exception as exc:  # told to the parent, which warns; the next trial goes on
            answer = f"{type(exc).__name__}: {exc}".replace("\n", " ")[:500]
        answers.write(answer.encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    main()
