"""MLflow pyfunc loader of a tuner model that takes raw table rows.

This file is copied into each such logged model (its ``code/`` folder) and
imports nothing of tuner's: ``mlflow.pyfunc.load_model`` and ``mlflow models
serve`` load the model with it in any environment that has MLflow and Keras.
The Keras model has one named input per column (numbers as float32, categories
as strings); ``predict`` takes a pandas DataFrame (or a dict of columns), turns
missing strings into "" and missing numbers into NaN (the model fills them),
and returns one row of outputs per input row.
"""

import os

import numpy as np
import pandas as pd


class MissingColumns(ValueError):
    """The input lacks columns the model takes."""


class BadCells(ValueError):
    """A number column holds a value that is not a number (an empty cell is missing, not bad)."""


class RawRowsModel:
    """A Keras model with named column inputs behind a DataFrame ``predict``."""

    def __init__(self, model):
        self.model = model

    def predict(self, data, params=None):
        frame = pd.DataFrame(data)
        outputs = self.model.predict(column_tensors(self.model, frame), verbose=0)
        return pd.DataFrame(np.asarray(outputs), index=frame.index)


def column_tensors(model, frame):
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
                raise BadCells(f"column {name!r}, row {row}: {values[row]!r} is not a "
                               "number (leave the cell empty where it is missing)")
            columns[name] = tf.constant(number.to_numpy("float32").reshape(-1, 1))
    return columns


def _load_pyfunc(path):
    import keras

    return RawRowsModel(keras.saving.load_model(os.path.join(path, "data", "model.keras")))
