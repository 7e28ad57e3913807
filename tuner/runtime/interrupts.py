"""Ctrl-C, and the stop signals of schedulers, stop a study cleanly.

SIGTERM (what Slurm, Kubernetes and systemd send) and SIGHUP (a closed
terminal) are handled as Ctrl-C is: ``stop_on_signals`` makes them raise
``SignalStop``, a ``KeyboardInterrupt``, so the running trial is recorded and
the parent run closed by the same code; a second one ends the process at once.

Ctrl-C that surfaces as another error still stops a study.

A stop may land anywhere, Optuna's own bookkeeping included (asking for a
trial, telling its result): raised there, it would leave a trial RUNNING with
no owner. So the search runs ``deferred()``: a stop is noted there and raised
only where it is safe, inside a trial (``raising()``, which raises a stop
noted before it on entry) or at the end of the block. A stop signal whose
exception something swallowed is raised again at those places, and ends a
fit after its epoch (``keras.training``).

Python raises ``KeyboardInterrupt`` at the next bytecode boundary after SIGINT;
when that boundary lies inside TensorFlow's tracing, its C++ code can turn the
exception into something else (seen here: ``SystemError: bad argument to
internal function``), which a trial would record as a failure and the study
would carry on. Noting the signal itself tells the two apart.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType, TracebackType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
_received: list[int] = []  # the stop signals this process has had, in order
_asked_by_thread: list[bool] = []  # a thread of this process sent itself a stop signal
_deferring: list[bool] = []  # innermost last: True inside deferred(), False inside raising()
_pending: list[int] = []  # stops noted and not yet raised (signal numbers)


class SignalStop(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived; ``signum`` says which."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def stop_on_signals() -> None:
    """SIGTERM and SIGHUP raise ``SignalStop`` in the main thread; a second stop signal
    ends the process at once, with status 128 + its number as a shell reports it."""
    for signum in STOP_SIGNALS:
        signal.signal(signum, _on_stop_signal)


def stop_from_thread(signum: int = signal.SIGTERM) -> None:
    """Stop this process as ``signum`` would, from a thread that watches something.

    Never the second stop that ends the process at once: if a stop is already
    under way when the signal is handled, it is ignored.
    """
    _asked_by_thread.append(True)
    os.kill(os.getpid(), signum)


def _on_stop_signal(signum: int, frame: FrameType | None) -> None:
    if _received and _asked_by_thread:
        _asked_by_thread.clear()  # a thread's request during a stop under way
        return
    if _received:
        os._exit(128 + signum)
    _received.append(signum)
    if _deferring and _deferring[-1]:
        _pending.append(signum)
        return
    raise SignalStop(signum)


def _on_deferred_sigint(signum: int, frame: FrameType | None) -> None:
    if _deferring and _deferring[-1] and not _pending:
        _pending.append(signum)
        return
    _pending.clear()  # raised now; a second Ctrl-C never waits
    raise KeyboardInterrupt


def _stop(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else SignalStop(signum)


def requested() -> bool:
    """Whether a stop was noted and not yet raised (inside ``deferred()``), or a stop
    signal arrived at all: this process is ending, whatever swallowed its exception."""
    return bool(_pending) or bool(_received)


def raise_if_requested() -> None:
    """Raise a stop noted inside ``deferred()``, or a stop signal whose exception never
    surfaced: Python ignores one raised inside a ``__del__`` (it prints "Exception
    ignored in"), as TensorFlow's objects are collected mid-training."""
    if _pending:
        raise _stop(_pending.pop())
    if _received:
        raise SignalStop(_received[0])


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Ctrl-C and stop signals in this block are noted, not raised, except inside
    ``raising()``; a stop noted is raised at ``raise_if_requested`` or the block's end.

    Only in the main thread (where Python runs signal handlers); SIGINT is left
    alone where it is ignored (a job started in the background).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if callable(previous):
        signal.signal(signal.SIGINT, _on_deferred_sigint)
    _deferring.append(True)
    try:
        yield
    finally:
        _deferring.pop()
        if callable(previous):
            signal.signal(signal.SIGINT, previous)
    raise_if_requested()


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """Inside ``deferred()``: stops raise at once here (a stop already noted, on entry)."""
    _deferring.append(False)
    try:
        raise_if_requested()
        yield
    finally:
        _deferring.pop()


def stopping() -> bool:
    """Whether a stop signal (SIGTERM, SIGHUP) has arrived in this process."""
    return bool(_received)


def exit_status() -> int:
    """What an interrupted ``tuner`` command exits with: 130 for Ctrl-C, else 128 + the
    stop signal's number (143 for SIGTERM, 129 for SIGHUP)."""
    return 128 + _received[0] if _received else 128 + signal.SIGINT


def stop_reason() -> str:
    """How to name the interruption in a message: ``interrupted`` or ``stopped by SIGTERM``."""
    return f"stopped by {signal.Signals(_received[0]).name}" if _received else "interrupted"


class InterruptWatch:
    """Notes whether SIGINT (or a stop signal) arrived while entered; Python's own
    handling is kept."""

    def __init__(self) -> None:
        self._sigint = False
        self._previous: Handler | None = None

    @property
    def requested(self) -> bool:
        return self._sigint or bool(_received)

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # not when SIGINT is ignored (a background job)
                self._previous = previous
                signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self._sigint = True
        assert callable(self._previous)  # installed by __enter__ over a Python handler
        self._previous(signum, frame)  # Python's default raises KeyboardInterrupt
