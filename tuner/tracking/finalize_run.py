"""The MLflow run of one ``tuner finalize``: tagged ``tuner.role = finalize``.

It lives in the study's experiment beside the parent and trial runs, which
it never writes to.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlflow.entities import DatasetInput, Metric, Param
from mlflow.tracking import MlflowClient

from tuner.runtime import owner
from tuner.tracking import keys
from tuner.tracking.figures.report import TrialReport
from tuner.tracking.lineage import log_dataset_inputs
from tuner.tracking.models import log_keras_model

if TYPE_CHECKING:
    import keras
    import numpy as np

    from tuner.data.frames import Columns


class FinalizeRun:
    """One finalize run, addressed by id; ``open_finalize_run`` opens and ends it."""

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    def log(self, metrics: Mapping[str, float], params: Mapping[str, Any]) -> None:
        """Scores and settings in one ``log_batch``."""
        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[Param(k, str(v)) for k, v in params.items()],
        )

    def log_model(
        self,
        model: keras.Model,
        x_sample: np.ndarray,
        outputs: np.ndarray,
        metadata: Mapping[str, Any],
        columns: Columns | None,
    ) -> str:
        return log_keras_model(self.run_id, model, x_sample, outputs, metadata, columns)

    def log_report(self, report: TrialReport) -> None:
        for file_name, figure in report.figures.items():
            self.client.log_figure(self.run_id, figure, file_name)
        for file_name, document in report.documents.items():
            self.client.log_dict(self.run_id, document, file_name)


@contextmanager
def open_finalize_run(
    client: MlflowClient, experiment_id: str, study_name: str, datasets: list[DatasetInput]
) -> Iterator[FinalizeRun]:
    """A new finalize run with the study's datasets; ended KILLED on Ctrl-C, FAILED on an
    error, FINISHED otherwise."""
    run = client.create_run(
        experiment_id,
        run_name=f"finalize-{time.strftime('%H%M%S')}",
        tags={keys.STUDY: study_name, keys.ROLE: "finalize", keys.OWNER: owner.this_process()},
    )
    run_id = run.info.run_id
    log_dataset_inputs(client, run_id, datasets)
    try:
        yield FinalizeRun(client, run_id)
    except KeyboardInterrupt:
        client.set_terminated(run_id, status="KILLED")
        raise
    except BaseException:
        client.set_terminated(run_id, status="FAILED")
        raise
    client.set_terminated(run_id)
