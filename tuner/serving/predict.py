"""Predict with a logged or registered model on a .npy or .csv file.

A model of a frame study takes raw rows: its CSV has a header with the
model's column names, strings and empty cells (read by pandas).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
import pandas as pd

from tuner.core.errors import TunerError, first_line
from tuner.data.frames import MISSING
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
    notes: tuple[str, ...] = ()  # what the input held that training did not

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
) -> tuple[np.ndarray, tuple[str, ...]]:
    """The model's outputs for the file's rows, and notes on its category cells."""
    if info.signature.inputs.is_tensor_spec():
        rows = _fit_to_signature(load_input(input_path), info)
        return np.asarray(model.predict(rows, verbose=0)), ()
    frame = load_frame(input_path)
    try:
        outputs = RawRowsModel(model).predict(frame).to_numpy()
    except (MissingColumns, BadCells) as exc:
        raise PredictError(f"{input_path}: {exc}") from None
    return outputs, category_notes(model, frame)


def category_notes(model: keras.Model, frame: pd.DataFrame) -> tuple[str, ...]:
    """How many rows hold a category that training never saw, and how many an empty
    category cell that training never had (each predicted as an unseen category),
    with the columns' counts: one line each, not one per row."""
    import keras

    unseen: dict[str, int] = {}
    empty: dict[str, int] = {}
    rows_unseen = np.zeros(len(frame), dtype=bool)
    rows_empty = np.zeros(len(frame), dtype=bool)
    for layer in model.layers:
        if not isinstance(layer, keras.layers.StringLookup):
            continue
        column = next((c for c, t in model.input.items() if t is layer.input), None)
        if column is None or column not in frame.columns:
            continue
        known = {str(v) for v in layer.get_vocabulary()[layer.num_oov_indices :]}
        missing = frame[column].isna().to_numpy()
        blank = missing & (MISSING not in known)
        other = ~missing & ~frame[column].astype(str).isin(known).to_numpy()
        rows_unseen |= other
        rows_empty |= blank
        unseen.update({column: int(other.sum())} if other.any() else {})
        empty.update({column: int(blank.sum())} if blank.any() else {})
    notes = []
    for count, columns, what in (
        (rows_unseen.sum(), unseen, "a category unseen in training"),
        (rows_empty.sum(), empty, "an empty category cell"),
    ):
        if count:
            per_column = ", ".join(f"{c}: {n}" for c, n in columns.items())
            notes.append(
                f"{count} of {len(frame)} rows hold {what} ({per_column}); "
                "each is predicted as an unseen category"
            )
    return tuple(notes)


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
    outputs, notes = _outputs(model, info, input_path)
    return dataclasses.replace(_labelled(info.metadata or {}, outputs, proba), notes=notes)


def _labelled(metadata: dict[str, Any], outputs: np.ndarray, proba: bool) -> Predictions:
    """Each row's value, or its class and probability, or (``proba``) every class's."""
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
) -> tuple[str, tuple[str, ...]]:
    """Predict; the CSV itself, or written to ``output`` and a line that says so; and the
    notes on the input's category cells."""
    predictions = predict(model_uri, input_path, proba)
    text = predictions.to_csv()
    if output is None:
        return text, predictions.notes
    output.write_text(text)
    return f"wrote {text.count(chr(10)) - 1} predictions to {output}", predictions.notes
