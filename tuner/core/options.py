"""How one search runs besides the study's own settings.

``RunOptions`` holds ``tuner.run``'s keywords: the Python API builds it, and the
command line maps its flags onto its fields. Its checks name the field; the
command line names the flag instead. ``SearchContext`` is what the search adds
for each process it runs: the stores resolved, the worker's number, the parent
run, the shared deadline.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tuner.core import names
from tuner.core.errors import StudyConfigError

if TYPE_CHECKING:
    from tuner.core.study import Study


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """Budget, engine, stores, recovery and workers of one search.

    ``trials`` counts new trials (default: the study's, or none when only a
    ``timeout`` is given); ``storage`` and ``tracking_uri`` default to the
    stores under ``./mlruns``.
    """

    trials: int | None = None
    timeout: float | None = None
    workers: int = 1
    engine: str = "optuna"
    algorithm: str = "hyperband"
    storage: str | None = None
    tracking_uri: str | None = None
    stale_after: int = 60
    retry_failed: int = 0
    max_failures: int = 5
    progress: bool = True
    debug: bool = False

    def __post_init__(self) -> None:
        _check_count("trials", self.trials, minimum=1, allow_none=True)
        if self.timeout is not None and (
            isinstance(self.timeout, bool)
            or not isinstance(self.timeout, int | float)
            or self.timeout <= 0
        ):
            raise StudyConfigError(f"timeout: expected seconds > 0, received {self.timeout}")
        _check_count("workers", self.workers, minimum=1)
        _check_count("stale_after", self.stale_after, minimum=2)
        _check_count("retry_failed", self.retry_failed, minimum=0)
        _check_count("max_failures", self.max_failures, minimum=1)
        if self.engine not in names.ENGINES:
            raise StudyConfigError(
                f"engine: expected one of {tuple(names.ENGINES)}, received {self.engine!r}"
            )
        if self.algorithm not in names.ALGORITHMS:
            raise StudyConfigError(
                f"algorithm: expected one of {tuple(names.ALGORITHMS)}, received {self.algorithm!r}"
            )
        if self.workers > 1 and self.engine != "optuna":
            raise StudyConfigError(
                "workers: several workers need engine='optuna' (Optuna's "
                "storage shares the study); run KerasTuner with one worker"
            )

    @classmethod
    def keywords(cls) -> tuple[str, ...]:
        """The fields a caller sets: ``tuner.run``'s keywords, ``tuner run``'s options."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def for_study(self, study: Study) -> RunOptions:
        """The budget resolved: the study's trials unless ``trials`` or only a ``timeout``
        is given; the study's timeout unless ``timeout`` is."""
        trials = (
            self.trials if self.trials is not None else (None if self.timeout else study.trials)
        )
        return dataclasses.replace(self, trials=trials, timeout=self.timeout or study.timeout)


@dataclass(frozen=True, kw_only=True)
class SearchContext:
    """One search process's options with what the search resolved for it.

    ``options`` has its budget resolved for the study (a worker's ``trials`` are
    its share); ``storage`` and ``tracking_uri`` are the stores' URLs;
    ``parent_run_id`` is set in a worker (the coordinator owns that run);
    ``source_tags`` let a later command load the study again (``tuner.study_file``,
    ``tuner.overrides``); ``deadline`` is when the search ends (``time.time()``
    seconds), shared by the workers.
    """

    options: RunOptions
    storage: str
    tracking_uri: str
    keras_tuner_dir: str = "mlruns/keras-tuner"
    worker: int = 0
    parent_run_id: str | None = None
    source_tags: Mapping[str, str] = field(default_factory=dict)
    deadline: float | None = None

    @classmethod
    def starting(cls, options: RunOptions, began: float, **resolved: Any) -> SearchContext:
        """The context of a search that began at ``began`` (``time.time()``): its deadline
        is ``options.timeout`` seconds later."""
        deadline = None if options.timeout is None else began + options.timeout
        return cls(options=options, deadline=deadline, **resolved)

    def seconds_left(self) -> float | None:
        """Seconds until the ``deadline`` (never below 0); None without one."""
        return None if self.deadline is None else max(0.0, self.deadline - time.time())

    def with_options(self, **changes: Any) -> SearchContext:
        """This context with some of its options changed."""
        return dataclasses.replace(self, options=dataclasses.replace(self.options, **changes))

    def as_json(self) -> dict[str, object]:
        """The fields as JSON types, for a worker process (``from_json`` reads them)."""
        return {**dataclasses.asdict(self), "source_tags": dict(self.source_tags)}

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> SearchContext:
        """The context that ``as_json`` wrote."""
        return cls(**{**fields, "options": RunOptions(**fields["options"])})


def _check_count(name: str, value: object, *, minimum: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bound = "> 0" if minimum == 1 else f">= {minimum}"
        raise StudyConfigError(f"{name}: expected a number {bound}, received {value!r}")
