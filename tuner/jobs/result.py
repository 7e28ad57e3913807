"""What a search returns: ``tuner.run``'s ``Result``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tuner.core.errors import TunerError
from tuner.jobs.summary import format_outcome, one_line

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

        if self.best_run_id is None:
            raise TunerError(f"study {self.study_name!r} has no completed trial to load")
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=f"runs:/{self.best_run_id}/model", tracking_uri=self.tracking_uri
        )
        return mlflow.keras.load_model(local)
