"""Ctrl-C that surfaces as another error still stops a study.

Python raises ``KeyboardInterrupt`` at the next bytecode boundary after SIGINT;
when that boundary lies inside TensorFlow's tracing, its C++ code can turn the
exception into something else (seen here: ``SystemError: bad argument to
internal function``), which a trial would record as a failure and the study
would carry on. Noting the signal itself tells the two apart.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]


class InterruptWatch:
    """Notes whether SIGINT arrived while entered; Python's own handling is kept."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Handler | None = None

    def __enter__(self) -> InterruptWatch:
        if threading.current_thread() is threading.main_thread():
            previous = signal.getsignal(signal.SIGINT)
            if callable(previous):  # not when SIGINT is ignored (a background job)
                self._previous = previous
                signal.signal(signal.SIGINT, self._on_sigint)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True
        self._previous(signum, frame)  # Python's default raises KeyboardInterrupt
