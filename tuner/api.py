"""The Python API: ``tuner.run`` does what ``tuner run`` does, and returns the result.

    import tuner
    result = tuner.run("studies/fashion.py", trials=10)
    result.best_value, result.best_params
    model = result.load_best_model()

The command line calls this function; its options are the keyword arguments.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuner.core.errors import StudyConfigError, TunerError
from tuner.core.options import RunOptions
from tuner.core.study import Study
from tuner.jobs import search as searching
from tuner.jobs.summary import format_outcome, one_line

if TYPE_CHECKING:
    import keras
    import pandas as pd

    from tuner.engines.base import SearchOutcome


@dataclass(frozen=True)
class Result:
    """A finished search: the study's best trial so far and where it is recorded."""

    study_name: str
    outcome: SearchOutcome
    tracking_uri: str
    finalized: str | None = None

    def __repr__(self) -> str:
        return f"<Result {self.study_name}: {one_line(self.outcome)}>"

    def summary(self) -> str:
        """What ``tuner run`` prints: counts, the best trial and its params, its run."""
        from tuner.runtime.stores import redact

        text = format_outcome(self.study_name, self.outcome, redact(self.tracking_uri))
        return f"{text}\n{self.finalized}" if self.finalized else text

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

        if self.best_run_id is None:
            raise TunerError(f"study {self.study_name!r} has no completed trial to load")
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{self.best_run_id}/model", tracking_uri=self.tracking_uri)
        return mlflow.keras.load_model(local)


def run(study: Study | str | Path, *, verbose: bool = True, **settings: Any) -> Result:
    """Run (or continue) a study: a study file's path, or a ``tuner.Study``.

    The keywords are ``tuner run``'s options (``RunOptions``: ``trials``,
    ``timeout``, ``workers``, ``engine``, ``algorithm``, ``storage``,
    ``tracking_uri``, ``stale_after``, ``retry_failed``, ``max_failures``,
    ``progress``, ``debug``); any other keyword overrides a study setting
    (``max_epochs=5``, ``seed=1``). Stores default to ``./mlruns`` as on the
    command line. With ``verbose`` the summary ``tuner run`` prints is printed.
    Raises ``tuner.TunerError`` (with the one line the command prints) on bad
    input; on Ctrl-C the running trial is recorded and
    ``tuner.Interrupted`` is raised.
    """
    options = {k: settings.pop(k) for k in RunOptions.keywords() if k in settings}
    unknown = sorted(set(settings) - {f.name for f in fields(Study)})
    if unknown:
        raise StudyConfigError(f"run: {unknown[0]!r} is neither an option of run nor a study "
                               "setting (see docs/study-files.md)")
    searched = searching.search(study, RunOptions(**options), overrides=settings)
    result = Result(searched.study.name, searched.outcome, searched.tracking_uri,
                    searched.finalized)
    if verbose:
        print(result.summary(), file=sys.stdout)
    return result


def frame_inputs(model: keras.Model, frame: pd.DataFrame) -> dict[str, Any]:
    """What a frame study's Keras model takes for ``frame``'s rows, one tensor per column:
    ``model.predict(tuner.frame_inputs(model, df))``, for the model of
    ``Result.load_best_model()`` or ``mlflow.keras.load_model``. Raises ``ValueError``
    naming a missing column, or a cell of a number column that is not a number."""
    from tuner.tracking.flavor.tuner_raw_rows import column_tensors

    return column_tensors(model, frame)
