"""What every engine shares: the prepared study and the outcome it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tuner.data import Data, Task
from tuner.trial import TrialSettings


@dataclass(frozen=True)
class Prepared:
    """A study's data, loaded and checked once per process, with its task and settings."""

    data: Data
    task: Task
    settings: TrialSettings


@dataclass(frozen=True)
class SearchOutcome:
    """Trials by state over the whole study, and the best COMPLETE trial if any."""

    objective: str

    states: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
