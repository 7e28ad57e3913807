"""The Python API: ``tuner.run`` does what ``tuner run`` does, and returns the result.

    import tuner
    result = tuner.run("studies/fashion.py", trials=10)
    result.best_value, result.best_params
    model = result.load_best_model()

The command line calls this function; its options are the keyword arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.errors import StudyConfigError
from tuner.study import Study

if TYPE_CHECKING:
    import keras

    from tuner.engines.base import SearchOutcome


@dataclass(frozen=True)
class Result:
    """A finished search: the study's best trial so far and where it is recorded."""

    study_name: str
    outcome: SearchOutcome
    tracking_uri: str
    finalized: str | None = None

    @property
    def best_params(self) -> dict[str, Any]:
        """The best trial's params ({} when none completed)."""
        return dict(self.outcome.best["params"]) if self.outcome.best else {}

    @property
    def best_value(self) -> float | None:
        """The objective of the best COMPLETE trial (None when none completed)."""
        return self.outcome.best["value"] if self.outcome.best else None

    @property
    def best_run_id(self) -> str | None:
        """The MLflow run of the best trial."""
        return self.outcome.best["run_id"] if self.outcome.best else None

    @property
    def states(self) -> dict[str, int]:
        """Trials of the whole study by state (COMPLETE, PRUNED, FAIL, ...)."""
        return dict(self.outcome.states)

    def load_best_model(self) -> keras.Model:
        """The best trial's logged Keras model (``mlflow.keras.load_model``)."""
        import mlflow

        from tuner.errors import TunerError

        if self.best_run_id is None:
            raise TunerError(f"study {self.study_name!r} has no completed trial to load")
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{self.best_run_id}/model", tracking_uri=self.tracking_uri)
        return mlflow.keras.load_model(local)


def run(study: Study | str | Path, *, trials: int | None = None, timeout: float | None = None,
        workers: int = 1, engine: str = "optuna", algorithm: str = "hyperband",
        storage: str | None = None, tracking_uri: str | None = None, stale_after: int = 60,
        retry_failed: int = 0, max_failures: int = 5, progress: bool = True,
        debug: bool = False, **overrides: Any) -> Result:
    """Run (or continue) a study: a study file's path, or a ``tuner.Study``.

    The keyword arguments are ``tuner run``'s options; any other keyword
    overrides a study setting (``max_epochs=5``, ``seed=1``). Stores default
    to ``./mlruns`` as on the command line. Raises ``tuner.TunerError`` (with
    the one line the command prints) on bad input; on Ctrl-C the running trial
    is recorded and ``tuner.errors.Interrupted`` is raised.
    """
    from tuner import launch

    unknown = sorted(set(overrides) - {f.name for f in fields(Study)})
    if unknown:
        raise StudyConfigError(f"run: {unknown[0]!r} is neither an option of run nor a study "
                               "setting (see docs/study-files.md)")

    budget = launch.Budget(trials=trials, timeout=timeout, engine=engine, algorithm=algorithm,
                           workers=workers, stale_after=stale_after, retry_failed=retry_failed,
                           max_failures=max_failures, progress=progress)
    searched = launch.search(study, budget, overrides=overrides, tracking_uri=tracking_uri,
                             storage=storage, debug=debug)
    return Result(searched.study.name, searched.outcome, searched.tracking_uri,
                  searched.finalized)
