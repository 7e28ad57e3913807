"""Exceptions raised by tuner.

The library raises these; only the command line turns them into a one-line
message and exit status 2. ``TrialFailed`` is kept apart: it marks one trial
failed and the study goes on, every other ``TunerError`` stops the study.
"""

from typing import Any


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (or its type), for one-line reports."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]


class TunerError(Exception):
    """Base of every error tuner raises on purpose."""


class StudyFileError(TunerError):
    """The study file is missing, does not parse, or defines no study."""


class SpaceError(TunerError):
    """The search space is invalid (empty choices, low > high, ...)."""


class StudyConfigError(TunerError):
    """A study setting other than the space is invalid."""


class DataError(TunerError):
    """The data set could not be loaded or does not fit the task."""


class StoreError(TunerError):
    """An Optuna storage or MLflow tracking store cannot be used."""


class TrialFailed(TunerError):
    """This trial failed (NaN loss, an error in build or fit); the study goes on."""


class TooManyFailures(TunerError):
    """Every recent trial failed: the study stops instead of burning its budget."""


class Interrupted(TunerError):
    """Ctrl-C: the running trial was recorded, the parent run closed."""

    def __init__(self, outcome: Any) -> None:
        super().__init__("interrupted")
        self.outcome = outcome
