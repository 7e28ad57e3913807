"""The data a study trains on, as MLflow dataset inputs of its runs.

Each split becomes a ``mlflow.data`` NumPy dataset named ``<study>_<split>``
with a digest of its whole content (SHA-256 of the features and labels, not
MLflow's default digest of the first 10,000 values), logged with the context
``training``, ``validation`` or ``test``. The MLflow UI's Dataset column then
tells two studies on different data apart.
"""

from __future__ import annotations

import hashlib

import mlflow
import numpy as np
from mlflow.entities import DatasetInput, InputTag

from tuner.data.containers import Data
from tuner.runtime.workarounds import dataset_entity

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
        dataset = mlflow.data.from_numpy(np.asarray(x), targets=np.asarray(y),
                                         name=f"{study_name}_{split}", digest=digest(x, y))
        context = InputTag(mlflow.utils.mlflow_tags.MLFLOW_DATASET_CONTEXT, CONTEXTS[split])
        # the entity MLflow's own log_input sends; MlflowClient.log_inputs takes it by run id
        inputs.append(DatasetInput(dataset_entity(dataset), [context]))
    return inputs
