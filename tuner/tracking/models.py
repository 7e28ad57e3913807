"""Logged models and arrays: a Keras model both loaders take, ``.npy`` artifacts."""

from __future__ import annotations

import functools
import tempfile
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras
import mlflow
import numpy as np
from mlflow.models import ModelSignature
from mlflow.tracking import MlflowClient

from tuner.runtime.workarounds import pins_checked_by_name
from tuner.tracking.flavor import raw_rows

if TYPE_CHECKING:
    from tuner.data.frames import Columns

# A trial's outputs on the validation split, kept with its model for ensemble selection.
VALIDATION_OUTPUTS = "validation_outputs.npy"


@functools.cache
def model_requirements() -> tuple[str, ...]:
    """Pinned requirements of a logged model; giving them skips MLflow's slow inference."""
    pins: list[str] = []
    for name in ("tensorflow", "keras"):
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return tuple(pins)


def log_keras_model(
    run_id: str,
    model: keras.Model,
    inputs: np.ndarray,
    outputs: np.ndarray,
    metadata: Mapping[str, Any],
    columns: Columns | None = None,
) -> str:
    """Log the model with a signature so both the Keras and pyfunc loaders take it.

    The signature is read off a few rows and the model's outputs for them.
    ``metadata`` (task, class names) lets ``tuner predict`` label its output.
    With ``columns`` (a frame study), the model is logged behind one input per
    raw column (``Columns.raw_input_model``), with a pyfunc that takes
    DataFrames (``tuner.tracking.flavor.raw_rows``).
    The run is made active for the call: MLflow 3.17's ``Model.log(run_id=...)``
    without an active run files the logged model under the default experiment,
    not the run's.
    """
    options = {
        "name": "model",
        "pip_requirements": list(model_requirements()),
        "metadata": dict(metadata),
    }
    signature = mlflow.models.infer_signature(inputs, outputs)
    with mlflow.start_run(run_id=run_id), pins_checked_by_name():
        if columns is None:
            info = mlflow.keras.log_model(model, signature=signature, **options)
        else:
            info = mlflow.models.Model.log(
                None,
                flavor=raw_rows,
                model=columns.raw_input_model(model),
                signature=ModelSignature(columns.schema(), signature.outputs),
                **options,
            )
    return info.model_uri


def log_array(client: MlflowClient, run_id: str, array: np.ndarray, name: str) -> None:
    """An array as a ``.npy`` artifact of the run (``load_array`` reads it back)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        np.save(path, array, allow_pickle=False)
        client.log_artifact(run_id, str(path))


def load_array(client: MlflowClient, run_id: str, name: str) -> np.ndarray | None:
    """A ``.npy`` artifact of the run; None if the run has none of that name."""
    if not any(f.path == name for f in client.list_artifacts(run_id)):
        return None
    with tempfile.TemporaryDirectory() as folder:
        return np.load(client.download_artifacts(run_id, name, folder), allow_pickle=False)
