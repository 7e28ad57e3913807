"""The data a study trains on, as MLflow dataset inputs of its runs.

Each split becomes a ``mlflow.data`` NumPy dataset named ``<study>_<split>``
with a digest of its whole content (SHA-256 of the features and labels, not
MLflow's default digest of the first 10,000 values), logged with the context
``training``, ``validation`` or ``test``. The MLflow UI's Dataset column then
tells two studies on different data apart.
"""

from __future__ import annotations

import hashlib
import time

import mlflow
import numpy as np
from mlflow.entities import DatasetInput, InputTag
from mlflow.tracking import MlflowClient

from tuner.data.containers import Data
from tuner.runtime.workarounds import dataset_entity

# What a store says when another process inserted the same dataset first (SQLite,
# PostgreSQL): the rows now exist, and logging again links them.
RACE_LOST = ("UNIQUE constraint failed: datasets", "duplicate key value violates unique")
ATTEMPTS = 3
CONTEXTS = {"train": "training", "validation": "validation", "test": "test"}
DIGEST_CHARS = 12


def digest(x: np.ndarray, y: np.ndarray) -> str:
    """A hex digest of the arrays' bytes, shapes and dtypes."""
    hashed = hashlib.sha256()
    for array in (np.ascontiguousarray(x), np.ascontiguousarray(y)):
        hashed.update(f"{array.shape}{array.dtype}".encode())
        hashed.update(array.data)  # numbers: tuner.data.check and encode_labels ran first
    return hashed.hexdigest()[:DIGEST_CHARS]


def dataset_inputs(data: Data, study_name: str) -> list[DatasetInput]:
    """One dataset input per split of ``data``, computed once per process."""
    inputs = []
    for split, (x, y) in data.splits().items():
        dataset = mlflow.data.from_numpy(  # type: ignore[attr-defined]
            np.asarray(x), targets=np.asarray(y), name=f"{study_name}_{split}", digest=digest(x, y)
        )
        context = InputTag(mlflow.utils.mlflow_tags.MLFLOW_DATASET_CONTEXT, CONTEXTS[split])
        # the entity MLflow's own log_input sends; MlflowClient.log_inputs takes it by run id
        inputs.append(DatasetInput(dataset_entity(dataset), [context]))
    return inputs


def log_dataset_inputs(client: MlflowClient, run_id: str, datasets: list[DatasetInput]) -> None:
    """``client.log_inputs``, again when another process inserted the same datasets first.

    MLflow looks a dataset up, then inserts it; several runs of a new study that
    start together race between the two and all but one fail on the store's
    unique key. The dataset exists after such a failure, so the next try links it.
    """
    for attempt in range(ATTEMPTS):
        try:
            client.log_inputs(run_id, datasets=datasets)
            return
        except Exception as exc:
            if attempt == ATTEMPTS - 1 or not any(m in str(exc) for m in RACE_LOST):
                raise
            time.sleep(0.05 * (attempt + 1))
