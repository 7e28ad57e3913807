"""The contract every engine keeps: search a study, trial by trial, through ``TrialRunner``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import optuna

from tuner.data.baseline import Trivial
from tuner.engines.trial import TrialRunner


class Engine(Protocol):
    """What a search needs of a search engine.

    An engine proposes params and hands each trial to ``TrialRunner`` (which
    trains and records it); it reports the study's outcome and an Optuna view
    of its trials for the study's plots.
    """

    name: str

    def tags(self) -> dict[str, str]: ...

    def search(self, runner: TrialRunner) -> SearchOutcome: ...

    def outcome(self) -> SearchOutcome: ...

    def optuna_view(self) -> optuna.Study: ...

    def fail_running_trials_of_this_process(self) -> None:
        """Record as FAIL the trials this process left RUNNING (a store refused a write)."""


@dataclass(frozen=True)
class BestTrial:
    """The best COMPLETE trial of a study: its number, objective value, params (every
    dimension) and MLflow run; ``label`` is how its engine names it where that is not
    ``#number`` (KerasTuner's ``hyperband-3``); ``scores``: its ``final_val_*`` and
    ``test_*`` metrics where the engine kept them."""

    number: int
    value: float
    params: Mapping[str, Any]
    run_id: str | None
    label: str | None = None
    scores: Mapping[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.label or f"#{self.number}"


@dataclass(frozen=True)
class SearchOutcome:
    """Trials by state over the whole study, the best COMPLETE trial if any, and what a
    model that ignores the inputs scores (``data.baseline``)."""

    objective: str

    states: dict[str, int] = field(default_factory=dict)
    best: BestTrial | None = None
    trivial: Trivial | None = None
    validation_rows: int = 0  # the rows one validation score is taken on (0: folds)
