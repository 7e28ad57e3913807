"""MLflow pyfunc loader of a tuner model that takes raw table rows.

This file is copied into each such logged model (its ``code/`` folder) and
imports nothing of tuner's: ``mlflow.pyfunc.load_model`` and ``mlflow models
serve`` load the model with it in any environment that has MLflow and Keras.
The Keras model has one named input per column (numbers as float32, categories
as strings); ``predict`` takes a pandas DataFrame (or a dict of columns), turns
missing strings into "" and missing numbers into NaN (the model fills them),
and returns one row of outputs per input row, its columns named by the class
(``tuner_class_names`` of the model's metadata), label, or ``value``.
"""

import os
from typing import Any

import numpy as np
import pandas as pd

ONE_CALL_ROWS = 8192  # up to this many rows are predicted in one call


class MissingColumns(ValueError):
    """The input lacks columns the model takes."""


class NoRows(ValueError):
    """The input has columns but no rows."""


class BadCells(ValueError):
    """A number column holds a value that is not a number (an empty cell is missing, not bad)."""


class RawRowsModel:
    """A Keras model with named column inputs behind a DataFrame ``predict``."""

    def __init__(self, model: Any, metadata: dict[str, Any] | None = None) -> None:
        self.model = model
        self.metadata = metadata or {}

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        frame = pd.DataFrame(data)
        if frame.empty:
            raise NoRows("the input has a header but no rows to predict")
        tensors = column_tensors(self.model, frame)
        # one call for a request's rows: none of predict's per-call set-up or progress bar
        outputs = np.asarray(
            self.model.predict_on_batch(tensors)
            if len(frame) <= ONE_CALL_ROWS
            else self.model.predict(tensors, verbose=0)
        )
        return pd.DataFrame(outputs, index=frame.index, columns=self.output_names(outputs))

    def output_names(self, outputs: np.ndarray) -> list[Any]:
        """Each output column's name: the class whose probability it is (binary: the
        second class, the positive one), the label, or ``value`` for regression."""
        task = self.metadata.get("tuner_task")
        names = self.metadata.get("tuner_class_names")
        width = outputs.shape[1]
        if task == "regression":
            return ["value"] if width == 1 else [f"value_{i}" for i in range(width)]
        if task == "binary":
            return [str(names[1]) if names else "1"]
        return [str(n) for n in names] if names and len(names) == width else list(range(width))


def column_tensors(model: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """The dict of tensors that ``model`` (named column inputs) takes for ``frame``'s rows:
    ``model.predict(column_tensors(model, frame))``. Strings for category columns (a
    missing cell is ""), float32 for numbers (a missing cell is NaN)."""
    import tensorflow as tf

    inputs = model.input  # {column name: KerasTensor}
    absent = [name for name in inputs if name not in frame.columns]
    if absent:
        raise MissingColumns(f"input lacks columns {absent}; the model takes {list(inputs)}")
    columns = {}
    for name, tensor in inputs.items():
        values = frame[name]
        if tensor.dtype == "string":
            text = np.array([[("" if pd.isna(v) else str(v))] for v in values], dtype=object)
            columns[name] = tf.constant(text, dtype=tf.string)
        else:
            number = pd.to_numeric(values, errors="coerce")
            bad = number.isna() & values.notna() & (values.astype(str).str.strip() != "")
            if bad.any():
                row = bad.idxmax()
                raise BadCells(
                    f"column {name!r}, row {row}: {values[row]!r} is not a "
                    "number (leave the cell empty where it is missing)"
                )
            columns[name] = tf.constant(number.to_numpy("float32").reshape(-1, 1))
    return columns


def _load_pyfunc(path: str) -> RawRowsModel:
    import keras
    from mlflow.models import Model

    metadata = Model.load(os.path.join(path, "MLmodel")).metadata
    return RawRowsModel(
        keras.saving.load_model(os.path.join(path, "data", "model.keras")), metadata
    )
