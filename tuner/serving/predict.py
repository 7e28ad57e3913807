"""Predict with a logged or registered model on a .npy or .csv file.

A model of a frame study takes raw rows: its CSV has a header with the
model's column names, strings and empty cells (read by pandas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow
import numpy as np
import pandas as pd

from tuner.core.errors import TunerError, first_line
from tuner.tracking.flavor.tuner_raw_rows import BadCells, MissingColumns, RawRowsModel

if TYPE_CHECKING:
    import keras


class PredictError(TunerError):
    """The model cannot be loaded or the input does not fit it."""


@dataclass(frozen=True)
class Predictions:
    """One row per input row: a label and its probability, or a value."""

    columns: tuple[str, ...]
    rows: Sequence[tuple[object, ...]]

    def to_csv(self) -> str:
        lines = [",".join(self.columns)]
        lines += [",".join(_cell(v) for v in row) for row in self.rows]
        return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return f"{value:.6g}" if isinstance(value, float) else str(value)


def load_input(path: Path) -> np.ndarray:
    try:
        if path.suffix == ".npy":
            return np.load(path, allow_pickle=False)
        if path.suffix == ".csv":
            rows = np.loadtxt(path, delimiter=",", dtype="float32", ndmin=2)
            if rows.size == 0:
                raise PredictError(f"{path} holds no rows to predict")
            return rows
    except ValueError as exc:
        raise PredictError(f"cannot read {path}: {exc}") from exc
    raise PredictError(f"input file {path}: expected a .npy or .csv file")


def _fit_to_signature(x: np.ndarray, info: mlflow.models.model.ModelInfo) -> np.ndarray:
    """Cast to the model's dtype; reshape flat CSV rows to image rows where sizes match."""
    spec = info.signature.inputs.inputs[0]
    expected = tuple(spec.shape[1:])
    if x.shape[1:] != expected and int(np.prod(x.shape[1:])) == int(np.prod(expected)):
        x = x.reshape((len(x), *expected))
    if x.shape[1:] != expected:
        raise PredictError(
            f"input rows have shape {x.shape[1:]}, the model expects "
            f"{expected} (signature shape {tuple(spec.shape)})"
        )
    return x.astype(spec.type)


def load_frame(path: Path) -> pd.DataFrame:
    if path.suffix != ".csv":
        raise PredictError(
            f"input file {path}: this model takes table rows; give a .csv file with a header row"
        )
    try:
        frame = pd.read_csv(path)
    except (ValueError, pd.errors.ParserError) as exc:
        raise PredictError(f"cannot read {path}: {first_line(exc)}") from None
    if frame.empty:
        raise PredictError(f"{path} has a header but no rows to predict")
    return frame


def _outputs(
    model: keras.Model, info: mlflow.models.model.ModelInfo, input_path: Path
) -> np.ndarray:
    if info.signature.inputs.is_tensor_spec():
        return np.asarray(model.predict(_fit_to_signature(load_input(input_path), info), verbose=0))
    try:
        return RawRowsModel(model).predict(load_frame(input_path)).to_numpy()
    except (MissingColumns, BadCells) as exc:
        raise PredictError(f"{input_path}: {exc}") from None


def load_keras(model_uri: str) -> tuple[keras.Model, mlflow.models.model.ModelInfo]:
    """A model tuner logged (Keras flavor, with a signature) and its MLflow info."""
    try:
        info = mlflow.models.get_model_info(model_uri)
        if "keras" not in info.flavors or info.signature is None:
            raise PredictError(
                f"{model_uri} is not a Keras model with a signature; "
                "tuner takes the models that tuner logs"
            )
        return mlflow.keras.load_model(model_uri), info
    except PredictError:
        raise
    except Exception as exc:  # MLflow raises several kinds for a bad or unknown URI
        raise PredictError(f"cannot load model {model_uri}: {first_line(exc)}") from exc


def predict(model_uri: str, input_path: Path, proba: bool = False) -> Predictions:
    """Load through the Keras flavor (its predict can be silenced), label by the metadata.

    A class and its probability per row, or with ``proba`` every class's (every
    label's) probability, one column each, named by the class names. A missing
    input file fails before any model loads.
    """
    if not input_path.is_file():
        raise PredictError(f"input file {input_path} does not exist")
    model, info = load_keras(model_uri)
    outputs = _outputs(model, info, input_path)
    metadata = info.metadata or {}
    task = metadata.get("tuner_task", "regression")
    if task == "regression":
        if proba:
            raise PredictError("proba: a regression model predicts values, not probabilities")
        return Predictions(("row", "value"), [(i, float(v)) for i, v in enumerate(outputs[:, 0])])
    names = metadata.get("tuner_class_names")
    if proba:
        return probabilities_of(task, outputs, names)
    if task == "multilabel":
        label = [names[k] if names else str(k) for k in range(outputs.shape[1])]
        return Predictions(
            ("row", "labels"),
            [
                (i, "|".join(n for n, p in zip(label, row, strict=True) if p > 0.5))
                for i, row in enumerate(outputs)
            ],
        )
    if task == "binary":
        positive = outputs[:, 0]
        labels = (positive > 0.5).astype(int)
        probabilities = np.where(labels == 1, positive, 1 - positive)
    else:
        labels, probabilities = outputs.argmax(axis=1), outputs.max(axis=1)
    rows = [
        (i, names[k] if names else int(k), float(p))
        for i, (k, p) in enumerate(zip(labels, probabilities, strict=True))
    ]
    return Predictions(("row", "class", "probability"), rows)


def probabilities_of(task: str, outputs: np.ndarray, names: list[str] | None) -> Predictions:
    """One column per class (per label for multi-label), headed by its name."""
    if task == "binary":
        outputs = np.concatenate([1 - outputs[:, :1], outputs[:, :1]], axis=1)
    columns = [str(n) for n in names] if names else [str(k) for k in range(outputs.shape[1])]
    return Predictions(("row", *columns), [(i, *map(float, row)) for i, row in enumerate(outputs)])


def predict_to(
    model_uri: str, input_path: Path, output: Path | None = None, proba: bool = False
) -> str:
    """Predict; the CSV itself, or written to ``output`` and a line that says so."""
    text = predict(model_uri, input_path, proba).to_csv()
    if output is None:
        return text
    output.write_text(text)
    return f"wrote {text.count(chr(10)) - 1} predictions to {output}"
