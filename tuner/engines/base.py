"""What every engine shares: the prepared study and the outcome it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna

from tuner.trial import TrialRunner


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """How one ``tuner run`` process searches: budget, stores, recovery, workers."""

    tracking_uri: str
    storage_url: str
    n_trials: int | None
    timeout: float | None
    show_progress_bar: bool = False
    stale_after: int = 60
    retry_failed: int = 0
    max_failures: int = 5
    worker: int = 0
    parent_run_id: str | None = None
    engine: str = "optuna"
    algorithm: str = "hyperband"
    keras_tuner_dir: str = "mlruns/keras-tuner"
    # Tags of the parent run that let a later command load the study again
    # (``tuner.study_file``, ``tuner.overrides``).
    source_tags: dict[str, str] = field(default_factory=dict)


class Engine(Protocol):
    """What ``tuner run`` needs of a search engine."""

    name: str

    def tags(self) -> dict[str, str]: ...

    def search(self, runner: TrialRunner) -> SearchOutcome: ...

    def outcome(self) -> SearchOutcome: ...

    def optuna_view(self) -> optuna.Study: ...


@dataclass(frozen=True)
class SearchOutcome:
    """Trials by state over the whole study, and the best COMPLETE trial if any."""

    objective: str

    states: dict[str, int] = field(default_factory=dict)
    best: dict[str, Any] | None = None
