"""Start a search as the ``tuner`` command does: study file, stores, figures process, workers.

``search`` is what ``tuner run`` calls; ``work`` is what each process of
``tuner run --workers N`` runs. The start order matters on two cores: a new
tracking store is created, or the figures process loads, on the core that
TensorFlow's import leaves idle (``tuner.process``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner import process
from tuner.errors import StudyConfigError
from tuner.study import FinalizeSettings, Study
from tuner.studyfile import load_study_file


@dataclass(frozen=True)
class Budget:
    """How one ``tuner run`` searches, besides the study's own settings."""

    trials: int | None = None
    timeout: float | None = None
    engine: str = "optuna"
    algorithm: str = "hyperband"
    workers: int = 1
    stale_after: int = 60
    retry_failed: int = 0
    max_failures: int = 5
    progress: bool = True

    def __post_init__(self) -> None:
        if self.trials is not None and self.trials <= 0:
            raise StudyConfigError(f"--trials: expected a number > 0, received {self.trials}")
        if self.timeout is not None and self.timeout <= 0:
            raise StudyConfigError(f"--timeout: expected seconds > 0, received {self.timeout}")
        if self.workers > 1 and self.engine != "optuna":
            raise StudyConfigError("--workers: several workers need --engine optuna (Optuna's "
                                   "storage shares the study); run KerasTuner with one worker")


def load(study_file: str | Path, overrides: Mapping[str, Any]) -> Study:
    """The study file's study with ``overrides`` (settings given on the command line)."""
    return dataclasses.replace(load_study_file(study_file), **overrides)


@dataclass(frozen=True)
class Searched:
    """What a search leaves: the study, its ``SearchOutcome``, the tracking URI, and the
    finalized model's summary if the study asked for one."""

    study: Study
    outcome: Any
    tracking_uri: str
    finalized: str | None = None


def search(study_file: str | Path | Study, budget: Budget, *,
           overrides: Mapping[str, Any] = {}, tracking_uri: str | None = None,
           storage: str | None = None, debug: bool = False) -> Searched:
    """Run (or continue) the study, then finalize it if its ``finalize`` setting says so.

    ``study_file`` may be a ``Study`` itself (from a notebook); workers and
    ``tuner finalize NAME`` then have no file to load it from.
    """
    with process.libraries_loading():
        if isinstance(study_file, Study):
            if budget.workers > 1:
                raise StudyConfigError("workers: several workers load the study from its file; "
                                       "pass the study file's path instead of a Study")
            study, source = dataclasses.replace(study_file, **overrides), {}
        else:
            study = load(study_file, overrides)  # before TensorFlow loads: bad files fail fast
            source = {"tuner.study_file": str(Path(study_file).resolve()),
                      "tuner.overrides": json.dumps(dict(overrides))}
        from tuner import stores as stores_mod

        stores = stores_mod.resolve(tracking_uri, storage)
        creating = stores_mod.start_tracking_store(stores.tracking_uri)
        with process.figures_process_first(creating, trains_here=budget.workers == 1):
            process.quiet_libraries(debug=debug)
        from tuner.engines.base import RunOptions
        from tuner.search import run_study
        from tuner.workers import run_workers

        options = RunOptions(
            tracking_uri=stores.tracking_uri, storage_url=stores.storage_url,
            n_trials=budget.trials if budget.trials is not None else (
                None if budget.timeout else study.trials),
            timeout=budget.timeout or study.timeout,
            show_progress_bar=budget.progress and budget.workers == 1,
            stale_after=budget.stale_after, retry_failed=budget.retry_failed,
            max_failures=budget.max_failures, engine=budget.engine, algorithm=budget.algorithm,
            keras_tuner_dir=str(stores_mod.STORE_DIR.resolve() / "keras-tuner"),
            source_tags=source,
        )
    if budget.workers > 1:
        outcome = run_workers(worker_spec(str(study_file), overrides), study, options,
                              budget.workers)
    else:
        outcome = run_study(study, options)
    settings = FinalizeSettings.of(study.finalize)
    finalized = None
    if settings and outcome.best:
        from mlflow.tracking import MlflowClient

        from tuner.finalize import finalize
        from tuner.search import prepare

        finalized = finalize(MlflowClient(stores.tracking_uri), study, prepare(study),
                             settings).summary()
    return Searched(study, outcome, stores.tracking_uri, finalized)


def worker_spec(study_file: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """What every worker shares: the file and the same overrides (``workers.worker_command``
    adds each worker's own options)."""
    return {"study_file": study_file, "overrides": dict(overrides)}


def work(spec_json: str, *, debug: bool = False) -> None:
    """One worker of ``tuner run --workers N``, from ``workers.worker_command``'s JSON."""
    spec = json.loads(spec_json)
    with process.libraries_loading():
        study = load(spec["study_file"], spec["overrides"])
        with process.figures_process_first(creating_store=False, trains_here=True):
            process.quiet_libraries(debug=debug)
        from tuner.engines.base import RunOptions
        from tuner.search import run_study

        options = RunOptions(**spec["options"])
    run_study(study, options)
