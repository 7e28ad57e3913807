"""What a search returns: ``tuner.run``'s ``Result``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.core.errors import TunerError
from tuner.jobs.summary import format_outcome, one_line

if TYPE_CHECKING:
    import keras
    import numpy as np
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
        return dict(self.outcome.best.params) if self.outcome.best else {}

    @property
    def best_value(self) -> float | None:
        """The objective of the best COMPLETE trial (None when none completed)."""
        return self.outcome.best.value if self.outcome.best else None

    @property
    def best_run_id(self) -> str | None:
        """The MLflow run of the best trial."""
        return self.outcome.best.run_id if self.outcome.best else None

    @property
    def states(self) -> dict[str, int]:
        """Trials of the whole study by state (COMPLETE, PRUNED, FAIL, ...)."""
        return dict(self.outcome.states)

    def load_best_model(self) -> keras.Model:
        """The best trial's logged Keras model (``mlflow.keras.load_model``)."""
        import mlflow

        return mlflow.keras.load_model(self._best_model())

    def predict(self, rows: pd.DataFrame | np.ndarray) -> pd.DataFrame:
        """The best trial's model on ``rows`` (a DataFrame of raw columns for a frame study,
        else an array), one row of outputs per row, its columns named as the pyfunc
        flavor names them: by class (a binary model: the positive class's probability),
        or ``value`` for regression."""
        import mlflow
        import numpy as np
        import pandas as pd

        from tuner.data.frames import RAW_ROWS
        from tuner.tracking.flavor.tuner_raw_rows import RawRowsModel

        local = self._best_model()
        model = mlflow.keras.load_model(local)
        raw = RawRowsModel(model, mlflow.models.Model.load(local).metadata)
        if model.name == RAW_ROWS:  # a frame study's: one named input per column
            return raw.predict(rows)
        outputs = np.asarray(model.predict(np.asarray(rows), verbose=0))
        return pd.DataFrame(outputs, columns=raw.output_names(outputs))

    def _best_model(self) -> str:
        """The best trial's logged model, downloaded: its local folder."""
        import mlflow

        if self.best_run_id is None:
            raise TunerError(f"study {self.study_name!r} has no completed trial to load")
        # MLflow 3 finds a run's logged model through the process's tracking URI, not
        # the ``tracking_uri`` a download is given
        before = mlflow.get_tracking_uri()
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            return mlflow.artifacts.download_artifacts(f"runs:/{self.best_run_id}/model")
        finally:
            mlflow.set_tracking_uri(before)
